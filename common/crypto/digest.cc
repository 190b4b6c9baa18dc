#include "common/crypto/digest.h"
