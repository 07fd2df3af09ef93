# s390pv guests: bare-metal s390x ELFs that run on s390pv and on qemu-system-s390x.
# Build contract: ../shared/spec/s390x-cpu.md section 3.7.
#   make guests   builds Firmware/build/ (runtime) and Guests/build/<name>.elf
#   make clean    removes both build directories

CROSS	?= s390x-linux-gnu-
CC	:= $(CROSS)gcc
AR	:= $(CROSS)ar

RT_DIR	:= Firmware/runtime
RT_OUT	:= Firmware/build
G_DIR	:= Guests
G_OUT	:= Guests/build

MARCH	= z10
CFLAGS	= -O2 -march=$(MARCH) -ffreestanding -nostdlib -fno-pic -fno-pie -mbackchain \
	  -fno-asynchronous-unwind-tables -std=gnu11 -Wall -Wextra -I$(RT_DIR)
LDFLAGS	= -no-pie -Wl,--build-id=none -T $(RT_DIR)/guest.lds
LIBS	= -lgcc

RT_START := $(RT_OUT)/start.o
RT_LIB	:= $(RT_OUT)/libruntime.a
RT_OBJS	:= $(patsubst $(RT_DIR)/%.c,$(RT_OUT)/%.o,$(wildcard $(RT_DIR)/*.c))

GUESTS	:= hello cpu-selftest smp timers sieve sclp-checks diag308 sigp-checks
# cpu-selftest once more with -march=zEC12, so the zEC12-level instructions are covered.
ELFS	:= $(GUESTS:%=$(G_OUT)/%.elf) $(G_OUT)/cpu-selftest-zec12.elf

.PHONY: guests clean
.SECONDARY:
guests: $(ELFS)

$(RT_OUT) $(G_OUT):
	mkdir -p $@

# gcc would turn the byte loops of string.c into calls to memset/memcpy themselves.
$(RT_OUT)/string.o: CFLAGS += -fno-tree-loop-distribute-patterns

$(RT_OUT)/%.o: $(RT_DIR)/%.c $(RT_DIR)/runtime.h | $(RT_OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(RT_START): $(RT_DIR)/start.S | $(RT_OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(RT_LIB): $(RT_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(G_OUT)/%.o: $(G_DIR)/%.c $(RT_DIR)/runtime.h | $(G_OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(G_OUT)/cpu-selftest-zec12.o: MARCH = zEC12
$(G_OUT)/cpu-selftest-zec12.o: $(G_DIR)/cpu-selftest.c $(RT_DIR)/runtime.h | $(G_OUT)
	$(CC) $(CFLAGS) -c -o $@ $<

$(G_OUT)/%.elf: $(G_OUT)/%.o $(RT_START) $(RT_LIB) $(RT_DIR)/guest.lds
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(RT_START) $< $(RT_LIB) $(LIBS)

clean:
	rm -rf $(RT_OUT) $(G_OUT)
