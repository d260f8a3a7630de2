/* control.h: the local control socket the tools talk to (SOCK_STREAM, framed like peers,
 * not encrypted). Callers are identified with SO_PEERCRED. */
#ifndef MIGR_CONTROL_H
#define MIGR_CONTROL_H

#include <stdint.h>

#include "proto.h"

void control_init(void);
void control_close(void);
/* Replies to a client by id; a client that has gone is skipped. */
void control_send(uint64_t id, const struct mw *frame);
/* The empty answer of a request that succeeded. */
void control_ok(uint64_t id);
void control_error(uint64_t id, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
