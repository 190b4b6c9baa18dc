#include "common/crypto/random.h"
