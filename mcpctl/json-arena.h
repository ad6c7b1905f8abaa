/*
 * cJSON's memory from an arena, for one command that parses a large reply
 * (`status` at 1000 servers: 17000 items): each allocation is a bump in a
 * chunk, each free of an arena block does nothing, and json_arena_end gives
 * all of it back at once. A block cJSON allocated before json_arena_begin is
 * still freed for real. Everything cJSON allocated in between must be freed
 * (or no longer used) by json_arena_end.
 */
#ifndef MCPCTL_JSON_ARENA_H
#define MCPCTL_JSON_ARENA_H

void json_arena_begin(void);
void json_arena_end(void);

#endif
