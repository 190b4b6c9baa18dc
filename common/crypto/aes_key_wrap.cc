#include "common/crypto/aes_key_wrap.h"
