/* main.c -- the guestbook's binary: nori_main does the rest. */
#include "guestbook.h"

int main(int argc, char **argv)
{
    return nori_main(&guestbook_app, argc, argv);
}
