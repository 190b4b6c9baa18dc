#include "common/jose/jwt.h"
