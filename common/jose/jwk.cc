#include "common/jose/jwk.h"
