// scripts/build-stamp writes commit.h (ignored by git) and touches this file whenever the commit changes, so only
// this file recompiles and the binary relinks; a build without the stamp reports no commit.
#include "buildinfo.h"

#if __has_include("commit.h")
#include "commit.h"
#endif
#ifndef ENTITLEMENTS_COMMIT
#define ENTITLEMENTS_COMMIT ""
#endif

const char *entitlements_build_commit(void) { return ENTITLEMENTS_COMMIT; }
