#include "common/crypto/pkey.h"
