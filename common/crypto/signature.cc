#include "common/crypto/signature.h"
