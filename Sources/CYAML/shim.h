#ifndef ENTITLEMENTS_CYAML_SHIM_H
#define ENTITLEMENTS_CYAML_SHIM_H
#include <yaml.h>
#endif
