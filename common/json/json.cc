#include "common/json/json.h"
