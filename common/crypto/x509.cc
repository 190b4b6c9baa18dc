#include "common/crypto/x509.h"
