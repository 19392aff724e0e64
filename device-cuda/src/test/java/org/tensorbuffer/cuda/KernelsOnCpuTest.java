package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.KernelConformanceTest;

/**
 * Every kernel of {@code kernels.cu} on the CPU (issue 19, item 2): core's kernel-conformance suite on a
 * {@link CudaOnCpuDevice}, whose kernels are the backend's own {@link CudaKernels} (the grid and block sizes, argument
 * bytes and kernel names it computes on a GPU) run through the CUDA-on-CPU shim ({@link CudaOnCpu}: one host thread
 * per CUDA thread, real barriers). Besides the suite: the largest permute of the einsum instances (16 777 216
 * elements, which runs at the grid's {@value CudaKernels#MAX_BLOCKS}-block cap), the kernels the Kernels API reaches
 * only for data it cannot hold here (1-byte elements, 64-bit-index copies) launched directly, the shim's own
 * self-test, and last a check that every PTX entry was launched. Skipped with a message where g++ is not installed.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KernelsOnCpuTest extends KernelConformanceTest {
    private final Random rnd = new Random(19);

    @Override
    protected Device openDevice() {
        try {
            return new CudaOnCpuDevice(CudaOnCpu.get());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private CudaOnCpuDevice gpu() {
        return (CudaOnCpuDevice) device();
    }

    /**
     * The 4096 x 4096 float64 outer product of bin_outer_product_4096 transposed: the launch hits the
     * {@value CudaKernels#MAX_BLOCKS}-block cap, so every thread's grid-stride loop runs more than once.
     */
    @Test
    void largestEinsumPermute() {
        int n = 4096;
        long total = (long) n * n;
        double[] src = new double[n * n];
        for (int i = 0; i < src.length; i++) {
            src[i] = i;
        }
        CudaOnCpuDevice gpu = gpu();
        DeviceBuffer s = gpu.allocate(total * 8, 256);
        DeviceBuffer d = gpu.allocate(total * 8, 256);
        gpu.copyFromHost(MemorySegment.ofArray(src), 0, s, 0, total * 8);
        gpu.kernels().stridedCopy(org.tensorbuffer.types.DType.F64, s, 0, new long[] {n, n}, new long[] {1, n}, d, 0);
        double[] got = new double[n * n];
        gpu.copyToHost(d, 0, MemorySegment.ofArray(got), 0, total * 8);
        gpu.free(s);
        gpu.free(d);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (got[i * n + j] != (double) j * n + i) {
                    throw new AssertionError("transpose element (" + i + ", " + j + "): " + got[i * n + j]);
                }
            }
        }
    }

    /**
     * The kernels the Kernels API reaches only for data it cannot hold here: 1-byte elements (no 1-byte DType) and
     * the 64-bit-index copies (used when an offset passes 2^31 - 1). Launched directly, with the arguments
     * CudaKernels builds, on small data, against a plain gather of the same bytes.
     */
    @Test
    void byteKernelsAndLongIndexCopies() {
        CudaOnCpuDevice gpu = gpu();
        long[] shape = {6, 5, 7};
        long[] strides = {1, 42, 6};
        int total = 6 * 5 * 7;
        for (int es : new int[] {1, 2, 4, 8}) {
            byte[] src = new byte[total * es];
            rnd.nextBytes(src);
            byte[] expected = org.tensorbuffer.device.KernelReference.gather(src, es, 0, shape, strides);
            for (String kernel : List.of("strided_copy_b" + es, "strided_copy32_b" + es)) {
                DeviceBuffer s = gpu.allocate(src.length, 256);
                gpu.copyFromHost(MemorySegment.ofArray(src), 0, s, 0, src.length);
                DeviceBuffer d = gpu.allocate(expected.length, 256);
                gpu.module().launch(kernel, 1, CudaKernels.THREADS, 0, new KernelArgs().ptr(s.address())
                        .ptr(d.address()).i64(total).i32(3).dims8(shape).dims8(strides));
                byte[] got = new byte[expected.length];
                gpu.copyToHost(d, 0, MemorySegment.ofArray(got), 0, got.length);
                gpu.free(s);
                gpu.free(d);
                assertThat(got).as(kernel).isEqualTo(expected);
            }
        }
        DeviceBuffer b = gpu.allocate(1001, 256);
        gpu.module().launch("fill_b1", 1, CudaKernels.THREADS, 0, new KernelArgs().ptr(b.address()).i64(1001)
                .bits(1, 0xA5));
        byte[] got = new byte[1001];
        gpu.copyToHost(b, 0, MemorySegment.ofArray(got), 0, got.length);
        gpu.free(b);
        for (byte x : got) {
            assertThat(x).isEqualTo((byte) 0xA5);
        }
    }

    /** The shim's warp shuffles and atomics (for kernels that will use them) do what CUDA's do. */
    @Test
    void shimWarpIntrinsicsAndAtomics() throws Exception {
        assertThat(CudaOnCpu.get().selfTest()).as("tb_selftest failure code").isZero();
    }

    /** Every entry point of the PTX has a CPU registration, and every one was launched by the tests before. */
    @Test
    @Order(Integer.MAX_VALUE)
    void everyKernelRan() throws Exception {
        CudaOnCpu shim = CudaOnCpu.get();
        String ptx = new String(PtxModule.ptx(), java.nio.charset.StandardCharsets.US_ASCII);
        TreeSet<String> entries = new TreeSet<>();
        Matcher m = Pattern.compile("\\.visible \\.entry (\\w+)\\(").matcher(ptx);
        while (m.find()) {
            entries.add(m.group(1));
        }
        assertThat(new TreeSet<>(shim.entries())).as("kernels registered in kernels_on_cpu.cpp vs PTX entries")
                .isEqualTo(entries);
        List<String> never = new ArrayList<>();
        for (String e : entries) {
            if (shim.launches(e) == 0) {
                never.add(e);
            }
        }
        assertThat(never).as("kernels never launched on the CPU").isEmpty();
        // the barrier-free fast path applies where it should and nowhere else
        assertThat(shim.independent("strided_copy32_b8")).isTrue();
        assertThat(shim.independent("binary_f32")).isTrue();
        assertThat(shim.independent("rmsnorm_f32")).isFalse();
        assertThat(shim.independent("gemm_f64")).isFalse();
    }
}
