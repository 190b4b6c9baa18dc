#include "common/encoding/base64.h"
