/* peers.h: TCP connections to other nodes: connect, handshake (auth.h), framing,
 * buffering. Written once; gossip (and later migration) only send and receive frames.
 * Outbound connections are made on demand, one per address, and carry what this node
 * sends; inbound ones carry what others send to it. A peer that breaks the protocol or fails
 * authentication loses its connection, logged with its address and the reason; everyone
 * else is served on. */
#ifndef MIGR_PEERS_H
#define MIGR_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Listens on the configured address; fatal if it cannot. */
void peers_init(void);
/* Queues one frame (mw_frame_begin/end) for addr:port; connects first if needed.
 * Best effort: on a queue over its bound the connection is dropped. */
void peers_send(const char *addr, uint16_t port, const struct mw *frame);
unsigned peers_connected(void);
/* Bytes queued to addr:port, not yet sent: bulk senders pace themselves by it. */
size_t peers_pending(const char *addr, uint16_t port);
void peers_close_all(void);

/* A move's own channel (bulk.h): a new connection to addr:port, authenticated as any other,
 * whose first frame is attach (MSG_BULK_ATTACH); then cb gets its descriptor, detached from
 * the loop, or -1 if it could not be made. */
typedef void (*peers_bulk_cb)(void *arg, int fd);
int peers_bulk_open(const char *addr, uint16_t port, const struct mw *attach, peers_bulk_cb cb,
		    void *arg);

#endif
