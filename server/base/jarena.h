/* jarena.h: jansson's allocations while one upstream answer is parsed, in a few blocks freed at
 * once. */
#ifndef CB_JARENA_H
#define CB_JARENA_H

#include <stdbool.h>

/*
 * Makes jansson allocate through this module; call once before any other
 * jansson use. Outside begin/end everything goes to malloc/free as before.
 * Loop thread only: jansson's allocator is process-wide, and no other
 * thread of the server uses jansson.
 */
void jarena_install(void);

/*
 * From begin to end, jansson's allocations come from the arena and its frees
 * of them do nothing. Every value made in between must be freed (decref'd)
 * before end, which releases the blocks. Returns false (and stays off) when
 * the first block cannot be had; jansson then uses malloc as usual.
 */
bool jarena_begin(void);
void jarena_end(void);

/* Bytes handed out since begin (tests and debug logs). */
unsigned long jarena_used(void);

#endif
