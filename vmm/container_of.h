/* The struct that embeds `member` at ptr: how callbacks find their owner. */
#ifndef KESTREL_CONTAINER_OF_H
#define KESTREL_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
