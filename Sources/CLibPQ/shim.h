// Debian's libpq (libpq-dev). Imported only by Sources/Service/Store/.
#include <libpq-fe.h>
