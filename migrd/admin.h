/* admin.h: a node's administrative state (mctl drain, undrain): set from any node of the
 * cluster, kept in the state directory across restarts, spread in the node's load vector. */
#ifndef MIGR_ADMIN_H
#define MIGR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

/* Reads the state the node had before this start. */
void admin_init(void);
/* 1 while this node is drained. */
int admin_drained(void);
/* MSG_CTL_DRAIN from a local client: node is this one or any other. */
void admin_request(uint64_t client, uint32_t uid, const char *node, int drained);
/* MSG_ADMIN_REQ, MSG_ADMIN_REPLY; a negative return closes the peer's connection. */
int admin_peer_message(const char *from, uint8_t type, const uint8_t *p, size_t n);
/* The one line a job that would start or land on a drained node gets, into why. */
void admin_refusal(const char *node, char *why, size_t len);

#endif
