/* common.c: shared helpers of the migr tools (see common.h). */
#include <config.h>

#include <stdlib.h>

#include "common.h"
#include "log.h"

struct migr_client *cli_connect(void)
{
	struct migr_client *c;
	int r = migr_connect(NULL, &c);
	if (r < 0)
		fatalx("cannot reach migrd at %s: %s (is migrd running? MIGR_SOCKET selects "
		       "the socket)",
		       migr_socket_path(NULL), migr_strerror(r));
	return c;
}

void cli_fail(struct migr_client *c, const char *what, int err)
{
	if (err == MIGR_EREFUSED)
		fatalx("%s: %s", what, migr_last_error(c));
	fatalx("%s: %s", what, migr_strerror(err));
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
