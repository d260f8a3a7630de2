/* xmalloc.h: allocation that cannot fail; on out-of-memory the program aborts, so error
 * paths elsewhere are about real errors. */
#ifndef MIGR_XMALLOC_H
#define MIGR_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
int xasprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
