#include "common/jose/jws.h"
