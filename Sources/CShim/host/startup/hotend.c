/*
 * The end of skiff's hot text. scripts/order-symbols lists this function
 * right after the last function the lifecycle commands run that the linker
 * can place one by one; what follows it in the order (whole objects, such
 * as the Swift standard library's 1.5 MB of .text in one section) and
 * everything never traced comes after it. faultaround.c keeps the kernel's
 * fault-around for the text before it and turns it off after it. Alone in
 * its file: without -ffunction-sections the linker places a file's .text
 * as one piece.
 */
#include "internal.h"

__attribute__((noinline, used)) void skiff_hot_text_end(void)
{
    __asm__ volatile("");
}
