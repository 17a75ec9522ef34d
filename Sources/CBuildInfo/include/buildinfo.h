// The commit this binary was built from, stamped by scripts/build-stamp (an empty string when the build was not
// stamped, e.g. a plain `swift build` from a source tarball).
#pragma once

const char *entitlements_build_commit(void);
