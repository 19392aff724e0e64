package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;

/** Buffers, copies, fill, errors and batching of the Vulkan device. */
class VulkanDeviceTest {

    private static MemorySegment bytes(int n, int seed) {
        MemorySegment s = Arena.ofAuto().allocate(n);
        for (int i = 0; i < n; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return s;
    }

    /** Round trips at odd offsets, through slices, and device-to-device copies. */
    static void roundTrips(Device d) {
        DeviceBuffer b = d.allocate(1000, 64);
        assertThat(b.address()).isZero();
        assertThat(b.byteSize()).isEqualTo(1000);
        MemorySegment src = bytes(1000, 5);
        d.copyFromHost(src, 0, b, 0, 1000);
        MemorySegment back = Arena.ofAuto().allocate(1000);
        d.copyToHost(b, 0, back, 0, 1000);
        assertThat(back.mismatch(src)).isEqualTo(-1);
        // odd offsets and a slice
        DeviceBuffer slice = b.slice(101, 500);
        assertThat(slice.handle()).isSameAs(b.handle());
        assertThat(slice.address()).isEqualTo(101);
        MemorySegment part = bytes(77, 9);
        d.copyFromHost(part, 0, slice, 3, 77);
        MemorySegment got = Arena.ofAuto().allocate(77);
        d.copyToHost(b, 104, got, 0, 77);
        assertThat(got.mismatch(part)).isEqualTo(-1);
        // device copy into another buffer at an offset
        DeviceBuffer c = d.allocate(300, 64);
        d.copy(b, 104, c, 7, 77);
        MemorySegment got2 = Arena.ofAuto().allocate(77);
        d.copyToHost(c, 7, got2, 0, 77);
        assertThat(got2.mismatch(part)).isEqualTo(-1);
        d.free(c);
        d.free(b);
    }

    @Test
    void copiesWithMappedMemory() {
        roundTrips(VulkanTestDevice.get());
    }

    @Test
    void copiesThroughStagingBuffers() {
        VulkanTestDevice.get();
        System.setProperty(VulkanDevice.FORCE_STAGING_PROPERTY, "true");
        DeviceBuffer leftOver;
        VulkanDevice closed;
        try (VulkanDevice d = new VulkanDevice("vulkan", DeviceKind.VULKAN)) {
            closed = d;
            assertThat(d.hostVisibleBuffers()).isFalse();
            assertThat(d.properties().get("memory")).contains("staging");
            roundTrips(d);
            // a kernel on device-local buffers, and a fill
            DeviceBuffer x = d.allocate(64, 64);
            d.fill(x, 0, 16, DType.F32, 2.5);
            d.kernels().scale(DType.F32, x, 0, x, 0, 16, 2);
            MemorySegment out = Arena.ofAuto().allocate(64);
            d.copyToHost(x, 0, out, 0, 64);
            for (int i = 0; i < 16; i++) {
                assertThat(out.getAtIndex(ValueLayout.JAVA_FLOAT, i)).isEqualTo(5f);
            }
            d.free(x);
            leftOver = d.allocate(256, 64); // still allocated at close: destroyed with the device
            d.kernels().scale(DType.F32, leftOver, 0, leftOver, 0, 64, 2); // and still pending
        } finally {
            System.clearProperty(VulkanDevice.FORCE_STAGING_PROPERTY);
        }
        assertThatThrownBy(() -> closed.copyToHost(leftOver, 0, Arena.ofAuto().allocate(8), 0, 8))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> closed.allocate(8, 64)).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void fillEveryTypeKeepsNeighbours(DType t) {
        VulkanDevice d = VulkanTestDevice.get();
        int es = t.byteSize();
        DeviceBuffer b = d.allocate(64L * es, 64);
        MemorySegment sentinel = Arena.ofAuto().allocate(64L * es);
        sentinel.fill((byte) 0x5A);
        d.copyFromHost(sentinel, 0, b, 0, sentinel.byteSize());
        double value = -3.3;
        d.fill(b, es, 7, t, value); // elements 1..7: odd element offset
        MemorySegment got = Arena.ofAuto().allocate(64L * es);
        d.copyToHost(b, 0, got, 0, got.byteSize());
        MemorySegment want = Arena.ofAuto().allocate(es);
        switch (t) {
            case F32 -> want.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 0, (float) value);
            case F64 -> want.set(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0, value);
            case F16 -> want.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, Float.floatToFloat16((float) value));
            case BF16 -> want.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0xC053); // -3.3 -> bf16 0xC053
            case I32 -> want.set(ValueLayout.JAVA_INT_UNALIGNED, 0, -3);
            case I64 -> want.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, -3L);
        }
        for (int e = 0; e < 64; e++) {
            for (int k = 0; k < es; k++) {
                byte g = got.get(ValueLayout.JAVA_BYTE, (long) e * es + k);
                byte w = e >= 1 && e <= 7 ? want.get(ValueLayout.JAVA_BYTE, k) : (byte) 0x5A;
                assertThat(g).as("element %d byte %d", e, k).isEqualTo(w);
            }
        }
        d.free(b);
    }

    @Test
    void badRequestsAreRejected() {
        VulkanDevice d = VulkanTestDevice.get();
        assertThatThrownBy(() -> d.allocate(-1, 64)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> d.allocate(8, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("power of two");
        DeviceBuffer zero = d.allocate(0, 64);
        assertThat(zero.byteSize()).isZero();
        d.free(zero);
        DeviceBuffer b = d.allocate(128, 64);
        assertThatThrownBy(() -> d.free(b.slice(0, 64))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("slice");
        assertThatThrownBy(() -> d.copyFromHost(Arena.ofAuto().allocate(16), 0, b, 120, 16))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> d.copy(b, 0, b, 32, 64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overlapping");
        d.free(b);
        assertThatThrownBy(() -> d.free(b)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("double free");
        assertThatThrownBy(() -> d.copyToHost(b, 0, Arena.ofAuto().allocate(8), 0, 8))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("after it was freed");
    }

    @Test
    void hugeAllocationIsOutOfMemory() {
        VulkanDevice d = VulkanTestDevice.get();
        assertThatThrownBy(() -> d.allocate(1L << 44, 64)).isInstanceOf(DeviceOutOfMemoryException.class)
                .hasMessageContaining("vulkan");
        // the device still works
        DeviceBuffer b = d.allocate(64, 64);
        d.free(b);
    }

    @Test
    void kernelsAreBatchedIntoFewSubmits() {
        VulkanDevice d = VulkanTestDevice.get();
        int n = 256;
        DeviceBuffer x = d.allocate(n * 4L, 64);
        d.fill(x, 0, n, DType.F32, 1);
        d.synchronize();
        long submits = d.submitCount();
        long commands = d.commandCount();
        for (int i = 0; i < 100; i++) {
            d.kernels().scale(DType.F32, x, 0, x, 0, n, 1.01);
        }
        MemorySegment out = Arena.ofAuto().allocate(n * 4L);
        d.copyToHost(x, 0, out, 0, n * 4L);
        assertThat(d.commandCount() - commands).isEqualTo(100);
        assertThat(d.submitCount() - submits).isEqualTo(1);
        assertThat(out.getAtIndex(ValueLayout.JAVA_FLOAT, 17)).isCloseTo((float) Math.pow(1.01, 100),
                org.assertj.core.data.Offset.offset(1e-4f));
        d.free(x);
    }

    @Test
    void freeIsStreamOrdered() {
        VulkanDevice d = VulkanTestDevice.get();
        DeviceBuffer a = d.allocate(4096, 64);
        DeviceBuffer out = d.allocate(4096, 64);
        d.fill(a, 0, 1024, DType.F32, 3);
        d.kernels().scale(DType.F32, a, 0, out, 0, 1024, 2);
        d.free(a); // still used by the recorded scale: destroyed after it completes
        DeviceBuffer again = d.allocate(4096, 64);
        d.fill(again, 0, 1024, DType.F32, -1);
        MemorySegment got = Arena.ofAuto().allocate(4096);
        d.copyToHost(out, 0, got, 0, 4096);
        for (int i = 0; i < 1024; i++) {
            assertThat(got.getAtIndex(ValueLayout.JAVA_FLOAT, i)).isEqualTo(6f);
        }
        d.free(again);
        d.free(out);
    }

    @Test
    void propertiesReportLimitsAndBudgets() {
        VulkanDevice d = VulkanTestDevice.get();
        var p = d.properties();
        assertThat(p).containsKeys("name", "driver", "maxMemoryAllocationCount", "heap0", "gemm", "float64");
        assertThat(p.get("heap0")).contains("budget=");
        assertThat(Long.parseLong(p.get("maxMemoryAllocationCount"))).isPositive();
        assertThat(d.memoryInfo().totalBytes()).isPositive();
        assertThat(d.memoryInfo().freeBytes()).isBetween(0L, d.memoryInfo().totalBytes());
        assertThat(d.minAlignment()).isGreaterThanOrEqualTo(64);
    }

    @Test
    void providerListsTheDeviceThroughServiceLoader() {
        VulkanTestDevice.get();
        DeviceStatus s = Devices.available().stream().filter(x -> x.id().equals("vulkan")).findFirst()
                .orElseThrow();
        assertThat(s.available()).isTrue();
        assertThat(s.backend()).isEqualTo("vulkan");
        assertThat(s.properties()).containsKeys("maxMemoryAllocationCount", "heap0");
        Device d = Devices.get("vulkan");
        assertThat(d.id()).isEqualTo("vulkan");
        assertThat(d.kind()).isEqualTo(DeviceKind.VULKAN);
    }
}
