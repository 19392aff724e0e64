package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.types.DType;

/**
 * The host side of the CUDA backend against a fake driver (issue 19, item 3): the launch shapes {@link CudaKernels}
 * computes (grid, block, kernel name, argument bytes), {@link KernelArgs} packing, {@link PtxModule}'s module load,
 * cached symbol lookup, launch and error mapping, and {@link PoolSetup} (allocation mode and release threshold). No
 * kernel runs: the fake records what a GPU would have been asked to do.
 */
class FakeDriverTest {

    /** One recorded launch. */
    record Launch(String kernel, int gx, int gy, int gz, int bx, int by, int bz, List<String> args) {
        String shape() {
            return kernel + " grid " + gx + "x" + gy + "x" + gz + " block " + bx + "x" + by + "x" + bz;
        }
    }

    /** A {@link ModuleDriver} that records calls and answers with handles, or with a set error. */
    static final class RecordingDriver implements ModuleDriver {
        final List<String> calls = new ArrayList<>();
        final List<Launch> launches = new ArrayList<>();
        final List<String> names = new ArrayList<>();
        byte[] image;
        int getFunctionResult;
        int launchResult;

        @Override
        public int moduleLoadData(long[] module, byte[] image) {
            this.image = image;
            calls.add("cuModuleLoadData");
            module[0] = 77;
            return 0;
        }

        @Override
        public int moduleGetFunction(long[] function, long module, String name) {
            calls.add("cuModuleGetFunction " + module + " " + name);
            if (getFunctionResult != 0) {
                return getFunctionResult;
            }
            names.add(name);
            function[0] = 1000 + names.size() - 1;
            return 0;
        }

        @Override
        public int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                                int sharedBytes, long stream, KernelArgs args) {
            calls.add("cuLaunchKernel " + function + " stream " + stream + " shared " + sharedBytes);
            List<String> a = new ArrayList<>();
            for (int i = 0; i < args.count(); i++) {
                a.add(HexFormat.of().formatHex(args.value(i)));
            }
            launches.add(new Launch(names.get((int) (function - 1000)), gridX, gridY, gridZ, blockX, blockY, blockZ,
                    a));
            return launchResult;
        }

        @Override
        public int moduleUnload(long module) {
            calls.add("cuModuleUnload " + module);
            return 0;
        }
    }

    /** A target whose buffers are any address range (nothing is dereferenced). */
    static final class FakeTarget implements KernelTarget {
        final List<String> calls = new ArrayList<>();

        @Override
        public long address(DeviceBuffer buffer, long offset, long bytes, String what) {
            if (offset < 0 || offset + bytes > buffer.byteSize()) {
                throw new IndexOutOfBoundsException(what);
            }
            return buffer.address() + offset;
        }

        @Override
        public void bind() {
        }

        @Override
        public long stream() {
            return 0x5a;
        }

        @Override
        public long allocateScratch(long bytes) {
            calls.add("scratch " + bytes);
            return 0x90000000L;
        }

        @Override
        public void freeScratch(long address) {
            calls.add("free scratch " + Long.toHexString(address));
        }

        @Override
        public void toHost(long address, MemorySegment dst, long bytes) {
            calls.add("toHost " + Long.toHexString(address) + " " + bytes);
        }
    }

    private final RecordingDriver driver = new RecordingDriver();
    private final FakeTarget target = new FakeTarget();
    private final PtxModule module = new PtxModule(driver);
    private final CudaKernels k = new CudaKernels(target, module, new TiledGemm(module, target.stream()));

    @AfterEach
    void close() {
        k.close();
    }

    private static DeviceBuffer buf(long address, long bytes) {
        return new DeviceBuffer(null, address, bytes, null);
    }

    private static String le(long v, int bytes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < bytes; i++) {
            sb.append(String.format("%02x", (v >>> (8 * i)) & 0xff));
        }
        return sb.toString();
    }

    @Test
    void kernelArgsAreTheLittleEndianBytesOfTheCValues() {
        KernelArgs a = new KernelArgs().ptr(0x1122334455667788L).i32(-2).i64(5).real(DType.F32, 1.0)
                .real(DType.F64, -2.0).bits(1, 0x1ff).bits(2, 0xabcd).dims8(new long[] {3, 4});
        assertThat(a.count()).isEqualTo(8);
        assertThat(HexFormat.of().formatHex(a.value(0))).isEqualTo("8877665544332211");
        assertThat(HexFormat.of().formatHex(a.value(1))).isEqualTo("feffffff");
        assertThat(HexFormat.of().formatHex(a.value(2))).isEqualTo("0500000000000000");
        assertThat(HexFormat.of().formatHex(a.value(3))).isEqualTo("0000803f");
        assertThat(HexFormat.of().formatHex(a.value(4))).isEqualTo("00000000000000c0");
        assertThat(HexFormat.of().formatHex(a.value(5))).isEqualTo("ff");
        assertThat(HexFormat.of().formatHex(a.value(6))).isEqualTo("cdab");
        assertThat(a.value(7)).hasSize(64);
        assertThat(HexFormat.of().formatHex(a.value(7))).startsWith("0300000000000000" + "0400000000000000")
                .endsWith("0000000000000000");
        assertThatThrownBy(() -> new KernelArgs().dims8(new long[9])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KernelArgs().bits(3, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void moduleLoadsOncePtxNulTerminatedAndLooksEachSymbolUpOnce() {
        assertThat(driver.image[driver.image.length - 1]).isZero();
        assertThat(new String(driver.image, 0, 200, java.nio.charset.StandardCharsets.US_ASCII))
                .contains(".target sm_75");
        DeviceBuffer x = buf(0x1000, 4000);
        k.silu(DType.F32, x, 0, x, 0, 1000);
        k.silu(DType.F32, x, 0, x, 0, 10);
        assertThat(driver.calls).containsExactly("cuModuleLoadData", "cuModuleGetFunction 77 silu_f32",
                "cuLaunchKernel 1000 stream 90 shared 0", "cuLaunchKernel 1000 stream 90 shared 0");
        k.close();
        assertThat(driver.calls).endsWith("cuModuleUnload 77");
        assertThat(target.calls).containsExactly("scratch " + (16L * CudaKernels.ARGMAX_PARTS + 8),
                "free scratch 90000000");
        assertThatThrownBy(() -> module.launch("silu_f32", 1, 1, 0, new KernelArgs()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("silu_f32");
    }

    @Test
    void driverErrorsNameTheCallAndKernel() {
        driver.getFunctionResult = 500;
        assertThatThrownBy(() -> k.scale(DType.F64, buf(0, 80), 0, buf(0, 80), 0, 10, 2))
                .isInstanceOf(CudaException.class).hasMessageContaining("cuModuleGetFunction(scale_f64)")
                .hasMessageContaining("CUDA_ERROR_NOT_FOUND");
        driver.getFunctionResult = 0;
        driver.launchResult = 1;
        assertThatThrownBy(() -> k.scale(DType.F64, buf(0, 80), 0, buf(0, 80), 0, 10, 2))
                .isInstanceOf(CudaException.class).hasMessageContaining("cuLaunchKernel(scale_f64)")
                .hasMessageContaining("CUDA_ERROR_INVALID_VALUE");
    }

    @Test
    void elementwiseLaunchesCoverNWithGridStrideUpToTheBlockCap() {
        DeviceBuffer big = buf(0x10000, 1L << 40);
        k.binary(BinaryOp.MUL, DType.F32, big, 0, big, 4, big, 8, 12_345);
        k.binary(BinaryOp.ADD, DType.F64, big, 0, big, 0, big, 0, 1);
        k.scale(DType.F32, big, 0, big, 0, 256L * 65_535 + 1, 0.5);
        k.rope(DType.F32, big, 0, big, 0, 288, 48, 3);
        List<Launch> l = driver.launches;
        assertThat(l.get(0).shape()).isEqualTo("binary_f32 grid 49x1x1 block 256x1x1");
        assertThat(l.get(0).args()).containsExactly(le(2, 4), le(0x10000, 8), le(0x10004, 8), le(0x10008, 8),
                le(12_345, 8));
        assertThat(l.get(1).shape()).isEqualTo("binary_f64 grid 1x1x1 block 256x1x1");
        assertThat(l.get(2).shape()).isEqualTo("scale_f32 grid 65535x1x1 block 256x1x1");
        assertThat(l.get(2).args().get(3)).isEqualTo("0000003f"); // 0.5f
        assertThat(l.get(3).shape()).isEqualTo("rope_f32 grid 1x1x1 block 256x1x1"); // 144 pairs
        assertThat(l.get(3).args().subList(2, 5)).containsExactly(le(288, 4), le(48, 4), le(3, 4));
    }

    @Test
    void rowOpsGetABlockPerRowOrHeadCappedAtTheGridLimit() {
        DeviceBuffer big = buf(0x10000, 1L << 40);
        k.rmsnorm(DType.F32, big, 0, big, 0, big, 0, 70_000, 288, 1e-5);
        k.softmax(DType.F64, big, 0, big, 0, 1, 32_000, 31_999);
        k.attention(DType.F32, big, 0, big, 0, big, 0, big, 0, 256, big, 0, 8, 4, 8, 255);
        k.reduceSum(DType.F32, big, 0, big, 0, 1000, 64);
        k.reduceSum(DType.F32, big, 0, big, 0, 1000, 65);
        k.reduceSum(DType.F64, big, 0, big, 0, 7, 0);
        List<Launch> l = driver.launches;
        assertThat(l.get(0).shape()).isEqualTo("rmsnorm_f32 grid 65535x1x1 block 256x1x1");
        assertThat(l.get(0).args().get(5)).isEqualTo("acc52737"); // 1e-5f
        assertThat(l.get(1).shape()).isEqualTo("softmax_f64 grid 1x1x1 block 256x1x1");
        assertThat(l.get(1).args().subList(2, 5)).containsExactly(le(1, 4), le(32_000, 4), le(31_999, 4));
        assertThat(l.get(2).shape()).isEqualTo("attention_f32 grid 8x1x1 block 256x1x1");
        assertThat(l.get(2).args().subList(4, 10)).containsExactly(le(256, 4), le(0x10000, 8), le(8, 4), le(4, 4),
                le(8, 4), le(255, 4));
        assertThat(l.get(3).shape()).isEqualTo("reduce_sum_rows_f32 grid 4x1x1 block 256x1x1");
        assertThat(l.get(4).shape()).isEqualTo("reduce_sum_block_f32 grid 1000x1x1 block 256x1x1");
        assertThat(l.get(5).shape()).isEqualTo("fill_b8 grid 1x1x1 block 256x1x1"); // empty rows sum to +0.0
        assertThat(l.get(5).args()).containsExactly(le(0x10000, 8), le(7, 8), le(0, 8));
    }

    @Test
    void argmaxIsTwoPassesThroughTheScratchAndReadsOneResult() {
        DeviceBuffer big = buf(0x10000, 1L << 40);
        k.argmax(DType.F32, big, 0, 100_000);
        k.argmax(DType.F64, big, 0, 10_000_000);
        List<Launch> l = driver.launches;
        long values = 0x90000000L;
        long indices = values + 8L * CudaKernels.ARGMAX_PARTS;
        long result = indices + 8L * CudaKernels.ARGMAX_PARTS;
        assertThat(l.get(0).shape()).isEqualTo("argmax_partial_f32 grid 391x1x1 block 256x1x1");
        assertThat(l.get(0).args()).containsExactly(le(0x10000, 8), le(100_000, 8), le(values, 8), le(indices, 8));
        assertThat(l.get(1).shape()).isEqualTo("argmax_final_f32 grid 1x1x1 block 256x1x1");
        assertThat(l.get(1).args()).containsExactly(le(values, 8), le(indices, 8), le(391, 4), le(result, 8));
        assertThat(l.get(2).shape()).isEqualTo("argmax_partial_f64 grid 1024x1x1 block 256x1x1");
        assertThat(l.get(3).args().get(2)).isEqualTo(le(1024, 4));
        assertThat(target.calls).contains("toHost " + Long.toHexString(result) + " 8");
    }

    @Test
    void stridedCopyMergesAxesAndPicks32Or64BitIndexKernels() {
        DeviceBuffer big = buf(0x10000, 1L << 40);
        k.stridedCopy(DType.F32, big, 0, new long[] {4096, 4096}, new long[] {1, 4096}, big, 0);
        k.stridedCopy(DType.F16, big, 0, new long[] {2, 3, 4}, new long[] {12, 4, 1}, big, 0); // contiguous
        k.stridedCopy(DType.I64, big, 0, new long[] {3, 2}, new long[] {1L << 31, 1}, big, 0);
        List<Launch> l = driver.launches;
        assertThat(l.get(0).shape()).isEqualTo("strided_copy32_b4 grid 65535x1x1 block 256x1x1");
        assertThat(l.get(0).args().subList(2, 6)).containsExactly(le(4096L * 4096, 8), le(2, 4),
                le(4096, 8) + le(4096, 8) + "00".repeat(48), le(1, 8) + le(4096, 8) + "00".repeat(48));
        assertThat(l.get(1).shape()).isEqualTo("strided_copy32_b2 grid 1x1x1 block 256x1x1");
        assertThat(l.get(1).args().get(3)).isEqualTo(le(1, 4)); // one merged axis of 24
        assertThat(l.get(2).shape()).isEqualTo("strided_copy_b8 grid 1x1x1 block 256x1x1"); // offset > 2^31 - 1
        assertThatThrownBy(() -> k.stridedCopy(DType.F32, big, 0, new long[] {2, 2, 2, 2, 2, 2, 2, 2, 2},
                new long[] {1, 2, 4, 8, 16, 32, 64, 128, 256}, big, 0))
                .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("rank 9");
    }

    @Test
    void tiledGemmTilesTheOutputAndPutsTheBatchOnZ() {
        DeviceBuffer big = buf(0x10000, 1L << 40);
        k.gemmStridedBatched(DType.F32, true, false, 33, 65, 17, 0.5, big, 0, 33, 33L * 17, big, 0, 65, 17L * 65, 0,
                big, 0, 65, 33L * 65, 70_000);
        Launch l = driver.launches.getFirst();
        assertThat(l.shape()).isEqualTo("gemm_f32 grid 5x3x65535 block 16x16x1");
        assertThat(l.args()).hasSize(17);
        assertThat(l.args().subList(0, 6)).containsExactly(le(1, 4), le(0, 4), le(33, 4), le(65, 4), le(17, 4),
                "0000003f");
        assertThat(l.args().get(16)).isEqualTo(le(70_000, 4));
        // more rows than 65535 tiles: split into launches whose A and C start at the right rows
        driver.launches.clear();
        int m = 65_535 * 16 + 5;
        k.gemm(DType.F64, false, false, m, 1, 1, 1, big, 0, 1, big, 0, 1, 0, big, 0, 1);
        assertThat(driver.launches).hasSize(2);
        assertThat(driver.launches.get(1).shape()).isEqualTo("gemm_f64 grid 1x1x1 block 16x16x1");
        assertThat(driver.launches.get(1).args().get(2)).isEqualTo(le(5, 4));
        assertThat(driver.launches.get(1).args().get(6)).isEqualTo(le(0x10000 + 8L * 65_535 * 16, 8));
    }

    @Test
    void poolSetupSelectsModeAndReleaseThreshold() {
        List<String> calls = new ArrayList<>();
        MemPoolDriver fake = new MemPoolDriver() {
            @Override
            public long defaultMemPool(int device) {
                calls.add("getDefault " + device);
                return 0xb00L;
            }

            @Override
            public void setPoolAttribute(long pool, int attribute, long value) {
                calls.add("set " + Long.toHexString(pool) + " " + attribute + " " + Long.toUnsignedString(value));
            }

            @Override
            public long poolAttribute(long pool, int attribute) {
                return 0;
            }

            @Override
            public void trimPool(long pool, long keepBytes) {
            }
        };
        try {
            assertThat(PoolSetup.of(AllocMode.SYNC).apply(fake, 0)).isZero();
            assertThat(calls).isEmpty();
            assertThat(PoolSetup.of(AllocMode.SYNC).description()).isEqualTo("cuMemAlloc/cuMemFree");
            PoolSetup async = PoolSetup.of(AllocMode.ASYNC);
            assertThat(async.releaseThreshold()).isEqualTo(-1);
            assertThat(async.apply(fake, 2)).isEqualTo(0xb00L);
            assertThat(calls).containsExactly("getDefault 2", "set b00 4 18446744073709551615");
            assertThat(async.description()).endsWith("release threshold unlimited");
            System.setProperty(CudaDevice.RELEASE_THRESHOLD_PROPERTY, "1048576");
            assertThat(PoolSetup.of(AllocMode.ASYNC).releaseThreshold()).isEqualTo(1 << 20);
            assertThat(PoolSetup.of(AllocMode.ASYNC).description()).endsWith("release threshold 1048576 B");
            System.setProperty(CudaDevice.RELEASE_THRESHOLD_PROPERTY, "unlimited");
            assertThat(PoolSetup.of(AllocMode.ASYNC).releaseThreshold()).isEqualTo(-1);
            System.setProperty(CudaDevice.RELEASE_THRESHOLD_PROPERTY, "-5");
            assertThatThrownBy(() -> PoolSetup.of(AllocMode.ASYNC)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(CudaDevice.RELEASE_THRESHOLD_PROPERTY + "=-5: expected a byte count >= 0, -1 or "
                            + "unlimited");
            System.setProperty(CudaDevice.RELEASE_THRESHOLD_PROPERTY, "lots");
            assertThatThrownBy(() -> PoolSetup.of(AllocMode.ASYNC)).hasMessageContaining("=lots");
            assertThat(PoolSetup.of(AllocMode.SYNC).releaseThreshold()).isZero(); // sync ignores the property
        } finally {
            System.clearProperty(CudaDevice.RELEASE_THRESHOLD_PROPERTY);
        }
    }
}
