#include "common/encoding/hex.h"
