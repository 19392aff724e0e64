package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;

class CpuDeviceTest {
    private final CpuDevice device = new CpuDevice();

    @AfterEach
    void noLeaks() {
        assertThat(device.liveBuffers()).as("buffers left allocated").isZero();
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void identity() {
        assertThat(device.id()).isEqualTo("cpu");
        assertThat(device.kind()).isEqualTo(DeviceKind.CPU);
        assertThat(device.minAlignment()).isEqualTo(64);
        assertThat(device.properties()).containsKeys("gemm", "threads", "memory");
    }

    @Test
    void allocationsAreAlignedAndDistinct() {
        Set<Long> addresses = new HashSet<>();
        DeviceBuffer[] bufs = new DeviceBuffer[50];
        for (int i = 0; i < bufs.length; i++) {
            bufs[i] = device.allocate(1 + i * 37L, i % 2 == 0 ? 1 : 64);
            assertThat(bufs[i].address() % 64).isZero();
            assertThat(bufs[i].byteSize()).isEqualTo(1 + i * 37L);
            assertThat(bufs[i].device()).isSameAs(device);
            assertThat(bufs[i].isRoot()).isTrue();
            addresses.add(bufs[i].address());
        }
        assertThat(addresses).hasSize(bufs.length);
        assertThat(device.usedBytes()).isEqualTo(50 + 37L * (49 * 50 / 2));
        DeviceBuffer big = device.allocate(1000, 4096);
        assertThat(big.address() % 4096).isZero();
        device.free(big);
        for (DeviceBuffer b : bufs) {
            device.free(b);
        }
    }

    @Test
    void zeroByteAllocationIsValid() {
        DeviceBuffer z = device.allocate(0, 64);
        assertThat(z.byteSize()).isZero();
        assertThat(z.address()).isNotZero();
        device.copyFromHost(MemorySegment.NULL, 0, z, 0, 0);
        device.fill(z, 0, 0, DType.F32, 1);
        device.free(z);
        assertThatThrownBy(() -> device.free(z)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("double free");
    }

    @Test
    void badAllocationArguments() {
        assertThatThrownBy(() -> device.allocate(-1, 64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
        assertThatThrownBy(() -> device.allocate(8, 48)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("power of two");
    }

    @Test
    void doubleFreeSliceAndForeignBuffersAreDetected() {
        DeviceBuffer b = device.allocate(256, 64);
        assertThatThrownBy(() -> device.free(b.slice(64, 64))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("slice");
        try (CpuDevice other = new CpuDevice()) {
            DeviceBuffer o = other.allocate(16, 64);
            assertThatThrownBy(() -> device.free(o)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("another device");
            other.free(o);
        }
        DeviceBuffer forged = new DeviceBuffer(device, b.address() + 64, 64, null);
        assertThatThrownBy(() -> device.free(forged)).isInstanceOf(IllegalStateException.class);
        DeviceBuffer wrongSize = new DeviceBuffer(device, b.address(), 128, null);
        assertThatThrownBy(() -> device.free(wrongSize)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("256 bytes");
        device.free(b);
        assertThatThrownBy(() -> device.free(b)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("double free");
    }

    @Test
    void memoryLimitThrowsDeviceOutOfMemory() {
        try (CpuDevice limited = new CpuDevice(1000)) {
            assertThat(limited.memoryInfo().totalBytes()).isEqualTo(1000);
            DeviceBuffer a = limited.allocate(600, 64);
            assertThat(limited.memoryInfo().freeBytes()).isEqualTo(400);
            assertThatThrownBy(() -> limited.allocate(401, 64)).isInstanceOf(DeviceOutOfMemoryException.class)
                    .hasMessageContaining("401")
                    .satisfies(e -> assertThat(((DeviceOutOfMemoryException) e).requestedBytes()).isEqualTo(401));
            DeviceBuffer b = limited.allocate(400, 64);
            assertThat(limited.memoryInfo().freeBytes()).isZero();
            limited.free(a);
            DeviceBuffer c = limited.allocate(600, 64);
            limited.free(b);
            limited.free(c);
            assertThat(limited.usedBytes()).isZero();
        }
    }

    @Test
    void impossibleAllocationIsDeviceOutOfMemory() {
        // posix_memalign refuses 2^62 bytes (ENOMEM) at once: no memory is touched
        assertThatThrownBy(() -> device.allocate(1L << 62, 64)).isInstanceOf(DeviceOutOfMemoryException.class)
                .hasMessageContaining(Long.toString(1L << 62));
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void memoryInfoWithoutLimitReportsTheMachine() {
        var mi = device.memoryInfo();
        assertThat(mi.totalBytes()).isGreaterThan(1L << 26);
        assertThat(mi.freeBytes()).isBetween(0L, mi.totalBytes());
    }

    @Test
    void closeFreesEverythingAndRejectsLaterAllocations() {
        CpuDevice d = new CpuDevice();
        d.allocate(100, 64);
        d.allocate(0, 64);
        d.close();
        assertThat(d.liveBuffers()).isZero();
        assertThatThrownBy(() -> d.allocate(8, 64)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void copiesRoundTripAndCheckBounds() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(1024);
            for (int i = 0; i < 256; i++) {
                host.setAtIndex(ValueLayout.JAVA_INT, i, i * 7 - 3);
            }
            DeviceBuffer a = device.allocate(1024, 64);
            DeviceBuffer b = device.allocate(1024, 64);
            device.copyFromHost(host, 0, a, 0, 1024);
            device.copy(a, 100, b, 4, 400);
            MemorySegment back = arena.allocate(1024);
            device.copyToHost(b, 4, back, 8, 400);
            for (int i = 0; i < 100; i++) {
                assertThat(back.getAtIndex(ValueLayout.JAVA_INT, 2 + i)).isEqualTo((25 + i) * 7 - 3);
            }
            assertThatThrownBy(() -> device.copy(a, 1000, b, 0, 25)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> device.copyFromHost(host, 0, a, -1, 4))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> device.copyToHost(a.slice(0, 8), 0, back, 0, 9))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            device.free(a);
            device.free(b);
        }
    }

    @Test
    void fillEveryDType() {
        try (Arena arena = Arena.ofConfined()) {
            DeviceBuffer buf = device.allocate(8 * 41, 64);
            MemorySegment host = arena.allocate(8 * 41);
            for (DType t : DType.values()) {
                device.fill(buf, 0, 41, t, 0);
                // offset 2 bytes: unaligned head and an odd count exercise the element-wise edges
                long off = t.byteSize() == 2 ? 2 : t.byteSize();
                device.fill(buf, off, 37, t, -2.75);
                device.copyToHost(buf, 0, host, 0, 8 * 41);
                for (int i = 0; i < 41; i++) {
                    long at = i * (long) t.byteSize();
                    boolean inside = at >= off && at < off + 37L * t.byteSize();
                    double expected = inside ? -2.75 : 0;
                    double actual = switch (t) {
                        case F32 -> host.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
                        case F64 -> host.get(ValueLayout.JAVA_DOUBLE_UNALIGNED, at);
                        case F16 -> Float.float16ToFloat(host.get(ValueLayout.JAVA_SHORT_UNALIGNED, at));
                        case BF16 -> HalfFloats.bf16BitsToFloat(host.get(ValueLayout.JAVA_SHORT_UNALIGNED, at));
                        case I32 -> host.get(ValueLayout.JAVA_INT_UNALIGNED, at);
                        case I64 -> host.get(ValueLayout.JAVA_LONG_UNALIGNED, at);
                    };
                    double exp = t == DType.I32 || t == DType.I64 ? (inside ? -2 : 0) : expected;
                    assertThat(actual).as("%s element %d", t, i).isEqualTo(exp);
                }
            }
            device.free(buf);
        }
    }

    @Test
    void halfPrecisionRoundsToNearestEven() {
        // 1 + 2^-11 is halfway between two halves (1 and 1 + 2^-10): ties to even -> 1.0
        assertThat(Float.float16ToFloat(HalfFloats.toF16Bits(1 + 0x1p-11))).isEqualTo(1.0f);
        // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: ties to even -> 1 + 2^-9
        assertThat(Float.float16ToFloat(HalfFloats.toF16Bits(1 + 3 * 0x1p-11))).isEqualTo(1 + 0x1p-9f);
        // Just above the tie by less than a float ulp: a double->float->half chain would round to 1.0
        assertThat(Float.float16ToFloat(HalfFloats.toF16Bits(1 + 0x1p-11 + 0x1p-40))).isEqualTo(1 + 0x1p-10f);
        assertThat(Float.float16ToFloat(HalfFloats.toF16Bits(65520.0))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Float.float16ToFloat(HalfFloats.toF16Bits(Double.NaN))).isNaN();
        // bfloat16 keeps 8 significand bits: 1 + 2^-8 ties to 1.0, 1 + 3 * 2^-8 ties up to 1 + 2^-6
        assertThat(HalfFloats.bf16BitsToFloat(HalfFloats.toBf16Bits(1 + 0x1p-8))).isEqualTo(1.0f);
        assertThat(HalfFloats.bf16BitsToFloat(HalfFloats.toBf16Bits(1 + 3 * 0x1p-8))).isEqualTo(1 + 0x1p-6f);
        assertThat(HalfFloats.bf16BitsToFloat(HalfFloats.toBf16Bits(1 + 0x1p-8 + 0x1p-40))).isEqualTo(1 + 0x1p-7f);
        assertThat(HalfFloats.bf16BitsToFloat(HalfFloats.toBf16Bits(Double.NaN))).isNaN();
        assertThat(HalfFloats.bf16BitsToFloat(HalfFloats.toBf16Bits(-3.0e38))).isEqualTo(-3.0e38f, org.assertj.core.data.Offset.offset(1e36f));
    }

    @Test
    void fillRejectsBadRanges() {
        DeviceBuffer b = device.allocate(16, 64);
        assertThatThrownBy(() -> device.fill(b, 0, 5, DType.F32, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> device.fill(b, 0, -1, DType.F32, 1)).isInstanceOf(IllegalArgumentException.class);
        device.free(b);
    }

    @Test
    void concurrentAllocateAndFreeKeepTheBooksBalanced() throws Exception {
        int threads = 4;
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            var futures = new java.util.ArrayList<java.util.concurrent.Future<Long>>();
            for (int t = 0; t < threads; t++) {
                final int seed = t;
                futures.add(pool.submit(() -> {
                    long sum = 0;
                    DeviceBuffer[] held = new DeviceBuffer[8];
                    for (int i = 0; i < 1000; i++) {
                        int slot = (i * 7 + seed) % held.length;
                        if (held[slot] != null) {
                            // the first word still holds what this thread wrote: nobody else got the memory
                            assertThat(NativeMemory.ALL.get(ValueLayout.JAVA_LONG, held[slot].address()))
                                    .isEqualTo(held[slot].address() ^ seed);
                            device.free(held[slot]);
                        }
                        held[slot] = device.allocate(8 + (i % 5) * 100, 64);
                        NativeMemory.ALL.set(ValueLayout.JAVA_LONG, held[slot].address(),
                                held[slot].address() ^ seed);
                        sum += held[slot].byteSize();
                    }
                    for (DeviceBuffer b : held) {
                        if (b != null) {
                            device.free(b);
                        }
                    }
                    return sum;
                }));
            }
            for (var f : futures) {
                assertThat(f.get()).isPositive();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(device.liveBuffers()).isZero();
        assertThat(device.usedBytes()).isZero();
    }

    @Test
    void gemmSelectionBySystemProperty() {
        String old = System.getProperty("tensorbuffer.cpu.gemm");
        try {
            System.setProperty("tensorbuffer.cpu.gemm", "java");
            assertThat(new CpuDevice().properties().get("gemm")).startsWith("Java Vector API");
            System.setProperty("tensorbuffer.cpu.gemm", "fast");
            assertThatThrownBy(CpuDevice::new).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("tensorbuffer.cpu.gemm").hasMessageContaining("fast");
        } finally {
            if (old == null) {
                System.clearProperty("tensorbuffer.cpu.gemm");
            } else {
                System.setProperty("tensorbuffer.cpu.gemm", old);
            }
        }
    }

    @Test
    void serviceLoaderFindsTheCpuDevice() {
        assertThat(Devices.available()).anySatisfy(s -> {
            assertThat(s.id()).isEqualTo("cpu");
            assertThat(s.available()).isTrue();
        });
        Device d = Devices.get("cpu");
        assertThat(d).isInstanceOf(CpuDevice.class);
        DeviceStatus st = new CpuDeviceProvider().probe().get(0);
        assertThat(st.properties().get("gemm")).isNotBlank();
        assertThat(st.properties().get("gemv")).isNotBlank();
        assertThatThrownBy(() -> new CpuDeviceProvider().open("cuda:0"))
                .hasMessageContaining("cuda:0");
    }

    /** A bad kernel setting makes the device unavailable with the setting's one-line message, not a class name. */
    @Test
    void badGemvSettingIsTheUnavailableReason() {
        String old = System.getProperty("tensorbuffer.cpu.gemv");
        System.setProperty("tensorbuffer.cpu.gemv", "fast");
        try {
            DeviceStatus st = new CpuDeviceProvider().probe().get(0);
            assertThat(st.available()).isFalse();
            assertThat(st.reason()).isEqualTo("tensorbuffer.cpu.gemv must be auto, java or openblas, got 'fast'");
            assertThatThrownBy(() -> new CpuDeviceProvider().open("cpu"))
                    .hasMessage("device 'cpu' cannot be opened: tensorbuffer.cpu.gemv must be auto, java or openblas,"
                            + " got 'fast'");
        } finally {
            if (old == null) {
                System.clearProperty("tensorbuffer.cpu.gemv");
            } else {
                System.setProperty("tensorbuffer.cpu.gemv", old);
            }
        }
    }
}
