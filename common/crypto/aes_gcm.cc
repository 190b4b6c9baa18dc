#include "common/crypto/aes_gcm.h"
