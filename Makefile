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

GUESTS	:= hello cpu-selftest smp timers sieve sclp-checks diag308 sigp-checks uv-guest memtouch clock secret
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

# Secure Execution boot loaders (Firmware/loaders; spec se-image-format.md sections 5-7):
#   make loaders   builds Firmware/build/loaders/stage3a.bin and stage3b_reloc.bin
.PHONY: loaders
LD_DIR	:= Firmware/loaders
LD_OUT	:= Firmware/build/loaders
LD_CFLAGS = -Os -march=z10 -ffreestanding -nostdlib -fno-pic -fno-pie -msoft-float \
	  -fno-asynchronous-unwind-tables -fno-stack-protector -fno-tree-loop-distribute-patterns \
	  -std=gnu11 -Wall -Wextra -I$(LD_DIR) -I$(RT_DIR)
LD_LDFLAGS = -nostdlib -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments
LD_COMMON := $(LD_OUT)/start.o $(LD_OUT)/sclp.o $(LD_OUT)/libc.o $(LD_OUT)/common.o \
	     $(LD_OUT)/printf.o
LD_3A	:= $(LD_OUT)/stage3a_init.o $(LD_OUT)/stage3a.o $(LD_OUT)/pv_error.o $(LD_COMMON)
LD_3B	:= $(LD_OUT)/stage3b_start.o $(LD_OUT)/stage3b.o $(LD_COMMON)

loaders: $(LD_OUT)/stage3a.bin $(LD_OUT)/stage3b_reloc.bin

$(LD_OUT):
	mkdir -p $@

$(LD_OUT)/%.o: $(LD_DIR)/%.c $(LD_DIR)/loader.h | $(LD_OUT)
	$(CC) $(LD_CFLAGS) -c -o $@ $<

$(LD_OUT)/%.o: $(LD_DIR)/%.S $(LD_DIR)/loader.h | $(LD_OUT)
	$(CC) $(LD_CFLAGS) -c -o $@ $<

# The runtime's printf (vsnprintf/printf over console_write), built with the loader flags.
$(LD_OUT)/printf.o: $(RT_DIR)/printf.c $(RT_DIR)/runtime.h | $(LD_OUT)
	$(CC) $(LD_CFLAGS) -c -o $@ $<

$(LD_OUT)/stage3a.elf: $(LD_3A) $(LD_DIR)/stage3a.lds
	$(CC) $(LD_CFLAGS) $(LD_LDFLAGS) -T $(LD_DIR)/stage3a.lds -o $@ $(LD_3A)

$(LD_OUT)/stage3b.elf: $(LD_3B) $(LD_DIR)/stage3b.lds
	$(CC) $(LD_CFLAGS) $(LD_LDFLAGS) -T $(LD_DIR)/stage3b.lds -o $@ $(LD_3B)

# stage3b_reloc.S embeds stage3b.bin with .incbin.
$(LD_OUT)/stage3b_reloc.o: $(LD_DIR)/stage3b_reloc.S $(LD_DIR)/loader.h $(LD_OUT)/stage3b.bin
	$(CC) $(LD_CFLAGS) -Wa,-I$(LD_OUT) -c -o $@ $<

$(LD_OUT)/stage3b_reloc.elf: $(LD_OUT)/stage3b_reloc.o $(LD_DIR)/stage3b_reloc.lds
	$(CC) $(LD_CFLAGS) $(LD_LDFLAGS) -T $(LD_DIR)/stage3b_reloc.lds -o $@ $<

$(LD_OUT)/%.bin: $(LD_OUT)/%.elf
	$(CROSS)objcopy -O binary $< $@

# Secure Execution images of guests (spec se-image-format.md section 5): the guest ELF as a raw
# kernel (its flat image from address 0; stage3b drops the first 64 KiB), sealed by our mkimage
# for a test host key made here (never committed).
#   make pv-guests   builds Guests/build/<name>-pv.img; needs `swift build` (S390PV) and the loaders
.PHONY: pv-guests
S390PV	?= .build/debug/s390pv
PV_GUESTS := hello uv-guest memtouch clock secret
PV_HKD	:= $(G_OUT)/hostkey/host-key.crt

pv-guests: $(PV_GUESTS:%=$(G_OUT)/%-pv.img)

$(PV_HKD): | $(G_OUT)
	$(S390PV) hostkey create $(G_OUT)/hostkey

$(G_OUT)/%.raw: $(G_OUT)/%.elf
	$(CROSS)objcopy -O binary $< $@

$(G_OUT)/hello-pv.img: PARMFILE = -p $(G_DIR)/hello-pv.parm
$(G_OUT)/hello-pv.img: $(G_DIR)/hello-pv.parm
$(G_OUT)/memtouch-pv.img: PARMFILE = -p $(G_DIR)/memtouch-pv.parm
$(G_OUT)/memtouch-pv.img: $(G_DIR)/memtouch-pv.parm
$(G_OUT)/clock-pv.img: PARMFILE = -p $(G_DIR)/clock-pv.parm
$(G_OUT)/clock-pv.img: $(G_DIR)/clock-pv.parm
$(G_OUT)/secret-pv.img: PARMFILE = -p $(G_DIR)/secret-pv.parm
$(G_OUT)/secret-pv.img: $(G_DIR)/secret-pv.parm

$(G_OUT)/%-pv.img: $(G_OUT)/%.raw $(PV_HKD) $(LD_OUT)/stage3a.bin $(LD_OUT)/stage3b_reloc.bin
	$(S390PV) mkimage --no-component-check --overwrite --loaders $(LD_OUT) \
		-k $(PV_HKD) -i $< $(PARMFILE) -o $@
