package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceOutOfMemoryException;

/** Allocation, copies, fills and misuse of a {@link CudaDevice} in both allocation modes; skipped without CUDA. */
class CudaDeviceTest {

    @ParameterizedTest
    @EnumSource(AllocMode.class)
    void allocationsAreAlignedAndMisuseIsRejected(AllocMode mode) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(mode)) {
            DeviceBuffer a = d.allocate(1000, 64);
            assertThat(a.address() % CudaDevice.MIN_ALIGNMENT).isZero();
            DeviceBuffer big = d.allocate(3, 1 << 16);
            assertThat(big.address() % (1 << 16)).isZero();
            DeviceBuffer empty = d.allocate(0, 256);
            assertThat(empty.byteSize()).isZero();
            d.free(empty);
            assertThatThrownBy(() -> d.free(a.slice(256, 10))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("slice");
            d.free(a);
            assertThatThrownBy(() -> d.free(a)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("freed twice");
            d.free(big);
            assertThatThrownBy(() -> d.allocate(-1, 256)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> d.allocate(8, 3)).isInstanceOf(IllegalArgumentException.class);
            assertThat(d.properties()).containsKeys("name", "gemm", "allocation");
            assertThat(d.memoryInfo().totalBytes()).isPositive();
        }
    }

    @ParameterizedTest
    @EnumSource(AllocMode.class)
    void outOfMemoryIsDeviceOutOfMemoryException(AllocMode mode) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(mode)) {
            long tooMuch = d.memoryInfo().totalBytes() * 4;
            assertThatThrownBy(() -> d.allocate(tooMuch, 256)).isInstanceOf(DeviceOutOfMemoryException.class)
                    .hasMessageContaining("cuda:0");
            DeviceBuffer ok = d.allocate(1 << 20, 256); // the device still works afterwards
            d.free(ok);
        }
    }

    @ParameterizedTest
    @EnumSource(AllocMode.class)
    void copiesLargerThanTheStagingBuffersRoundTrip(AllocMode mode) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(mode); Arena arena = Arena.ofConfined()) {
            int n = (int) (2.5 * CudaDevice.STAGING_CHUNK) + 17;
            byte[] data = new byte[n];
            new Random(7).nextBytes(data);
            DeviceBuffer a = d.allocate(n + 100, 256);
            DeviceBuffer b = d.allocate(n + 100, 256);
            d.copyFromHost(MemorySegment.ofArray(data), 0, a, 3, n);
            d.copy(a, 3, b, 50, n);
            MemorySegment back = arena.allocate(n + 9);
            d.copyToHost(b, 50, back, 9, n);
            assertThat(back.asSlice(9, n).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
            assertThatThrownBy(() -> d.copy(a, 0, b, 200, n)).isInstanceOf(IndexOutOfBoundsException.class);
            d.free(a);
            d.free(b);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void fillWritesTheCastValueOfEveryType(DType t) {
        try (CudaDevice d = CudaTestSupport.openOrSkip(AllocMode.SYNC)) {
            int n = 1001;
            DeviceBuffer b = d.allocate((long) (n + 2) * t.byteSize(), 256);
            d.fill(b, 0, n + 2, t, 0);
            d.fill(b, t.byteSize(), n, t, -2.75);
            byte[] raw = CudaTestSupport.bytes(d, b, 0, (n + 2) * t.byteSize());
            MemorySegment s = MemorySegment.ofArray(raw);
            long expected = FillPattern.bits(t, -2.75);
            for (int i = 0; i < n + 2; i++) {
                long bits = switch (t.byteSize()) {
                    case 2 -> s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i) & 0xffffL;
                    case 4 -> s.get(ValueLayout.JAVA_INT_UNALIGNED, 4L * i) & 0xffffffffL;
                    default -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, 8L * i);
                };
                assertThat(bits).as("element %d", i).isEqualTo(i == 0 || i == n + 1 ? 0 : expected);
            }
            d.free(b);
        }
    }
}
