package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;

/** The parts of the backend that need no GPU: fill patterns, axis merging, the PTX resource, the mode property. */
class CudaHostSideTest {

    @AfterEach
    void clearProperty() {
        System.clearProperty(AllocMode.PROPERTY);
    }

    @Test
    void fillPatternsAreJavaCastsAndRoundToNearestEven() {
        assertThat(FillPattern.bits(DType.F32, 1.0)).isEqualTo(0x3f800000L);
        assertThat(FillPattern.bits(DType.F64, -2.0)).isEqualTo(0xc000000000000000L);
        assertThat(FillPattern.bits(DType.I32, -1.9)).isEqualTo(0xffffffffL);
        assertThat(FillPattern.bits(DType.I64, 3.99)).isEqualTo(3L);
        assertThat(FillPattern.bits(DType.I32, 1e20)).isEqualTo(Integer.MAX_VALUE);
        assertThat(FillPattern.bits(DType.F16, 1.0)).isEqualTo(0x3c00L);
        assertThat(FillPattern.bits(DType.F16, 65520.0)).isEqualTo(0x7c00L); // rounds up to +inf
        assertThat(FillPattern.bits(DType.BF16, 1.0)).isEqualTo(0x3f80L);
        // 1 + 2^-8 is exactly half-way between two bfloat16 values: ties to even (down)
        assertThat(FillPattern.bits(DType.BF16, 1.0 + 1.0 / 256)).isEqualTo(0x3f80L);
        // 1 + 3 * 2^-8 is half-way too: ties to even (up)
        assertThat(FillPattern.bits(DType.BF16, 1.0 + 3.0 / 256)).isEqualTo(0x3f82L);
        assertThat(FillPattern.bits(DType.BF16, Double.NaN) & 0x7fc0L).isEqualTo(0x7fc0L);
    }

    @Test
    void contiguousAxesMergeAndUnitAxesDrop() {
        List<long[]> a = CudaKernels.mergeAxes(new long[] {2, 1, 3, 4}, new long[] {12, 99, 4, 1});
        assertThat(a).hasSize(1);
        assertThat(a.getFirst()).containsExactly(24, 1);
        List<long[]> t = CudaKernels.mergeAxes(new long[] {3, 4}, new long[] {1, 3});
        assertThat(t).hasSize(2);
        List<long[]> bcast = CudaKernels.mergeAxes(new long[] {5, 6, 7}, new long[] {0, 0, 1});
        assertThat(bcast).hasSize(2);
        assertThat(bcast.get(0)).containsExactly(30, 0);
        assertThat(CudaKernels.mergeAxes(new long[] {1, 1}, new long[] {0, 0})).isEmpty();
    }

    @Test
    void ptxHasEveryEntryPointTheKernelsLaunch() {
        String ptx = new String(PtxModule.ptx(), StandardCharsets.US_ASCII);
        assertThat(ptx).contains(".target sm_75");
        Set<String> entries = new HashSet<>();
        Matcher m = Pattern.compile("\\.visible \\.entry (\\w+)\\(").matcher(ptx);
        while (m.find()) {
            entries.add(m.group(1));
        }
        for (String op : List.of("binary", "scale", "silu", "rmsnorm", "softmax", "rope", "attention",
                "argmax_partial", "argmax_final", "reduce_sum_rows", "reduce_sum_block", "gemm")) {
            assertThat(entries).contains(op + "_f32", op + "_f64");
        }
        for (int b : new int[] {1, 2, 4, 8}) {
            assertThat(entries).contains("fill_b" + b, "strided_copy_b" + b, "strided_copy32_b" + b);
        }
        assertThat(PtxModule.ptx()[PtxModule.ptx().length - 1]).isZero();
    }

    @Test
    void jcudaHandlesCarryRawAddresses() {
        long address = 0x7f00_1234_5600L;
        var p = JCudaHandles.devicePointer(address);
        assertThat(JCudaHandles.address(p)).isEqualTo(address);
        assertThat(JCudaHandles.address(p.withByteOffset(256))).isEqualTo(address + 256);
        assertThat(p.toString()).contains(Long.toHexString(address));
    }

    @Test
    void allocModeProperty() {
        assertThat(AllocMode.fromSystemProperty()).isEqualTo(AllocMode.SYNC);
        System.setProperty(AllocMode.PROPERTY, "ASYNC");
        assertThat(AllocMode.fromSystemProperty()).isEqualTo(AllocMode.ASYNC);
        System.setProperty(AllocMode.PROPERTY, "pooled");
        assertThatThrownBy(AllocMode::fromSystemProperty).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("pooled");
    }
}
