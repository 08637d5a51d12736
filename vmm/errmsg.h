/* One-line error messages for functions that fail with -errno and say why. */
#ifndef KESTREL_ERRMSG_H
#define KESTREL_ERRMSG_H

#include <stddef.h>

/* Formats the message into err (errlen bytes) and returns ret. Any thread. */
__attribute__((format(printf, 4, 5))) int errmsg(char *err, size_t errlen, int ret,
						  const char *fmt, ...);

#endif
