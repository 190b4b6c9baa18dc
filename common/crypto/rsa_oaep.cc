#include "common/crypto/rsa_oaep.h"
