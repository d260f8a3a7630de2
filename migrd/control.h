/* control.h: the local control socket the tools talk to (SOCK_STREAM, framed like peers,
 * not encrypted). Callers are identified with SO_PEERCRED. */
#ifndef MIGR_CONTROL_H
#define MIGR_CONTROL_H

void control_init(void);
void control_close(void);

#endif
