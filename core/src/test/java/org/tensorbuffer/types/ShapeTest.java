package org.tensorbuffer.types;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ShapeTest {
    @Test
    void rowMajorStridesAndCounts() {
        Shape s = Shape.of(2, 3, 4);
        assertThat(s.strides()).containsExactly(12, 4, 1);
        assertThat(s.elementCount()).isEqualTo(24);
        assertThat(s.byteSize(DType.F64)).isEqualTo(192);
        assertThat(s.byteSize(DType.BF16)).isEqualTo(48);
        assertThat(s.dim(-1)).isEqualTo(4);
        assertThat(s.rank()).isEqualTo(3);
    }

    @Test
    void scalarAndZeroSize() {
        assertThat(Shape.of().elementCount()).isEqualTo(1);
        assertThat(Shape.scalar().rank()).isZero();
        assertThat(Shape.of(3, 0, 5).elementCount()).isZero();
        assertThat(Shape.of(3, 0, 5).byteSize(DType.F32)).isZero();
    }

    @Test
    void equalityIsByDims() {
        assertThat(Shape.of(2, 3)).isEqualTo(Shape.of(2L, 3L)).hasSameHashCodeAs(Shape.of(2, 3));
        assertThat(Shape.of(2, 3)).isNotEqualTo(Shape.of(3, 2));
        assertThat(Shape.of(2, 3)).hasToString("[2, 3]");
    }

    @Test
    void isImmutable() {
        long[] dims = {2, 3};
        Shape s = Shape.of(dims);
        dims[0] = 9;
        s.dims()[1] = 9;
        assertThat(s.dims()).containsExactly(2, 3);
    }

    @Test
    void negativeDimensionIsNamed() {
        assertThatThrownBy(() -> Shape.of(2, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative dimension").hasMessageContaining("[2, -1]");
    }

    @Test
    void overflowIsNamed() {
        assertThatThrownBy(() -> Shape.of(1L << 32, 1L << 32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overflows");
        Shape big = Shape.of(1L << 31, 1L << 31); // 2^62 elements fits a long, bytes do not
        assertThatThrownBy(() -> big.byteSize(DType.F64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("byte size").hasMessageContaining("overflows");
    }

    @Test
    void dtypeSizesAndNames() {
        assertThat(DType.F32.byteSize()).isEqualTo(4);
        assertThat(DType.F64.byteSize()).isEqualTo(8);
        assertThat(DType.F16.byteSize()).isEqualTo(2);
        assertThat(DType.BF16.byteSize()).isEqualTo(2);
        assertThat(DType.I32.byteSize()).isEqualTo(4);
        assertThat(DType.I64.byteSize()).isEqualTo(8);
        assertThat(DType.of("float64")).isEqualTo(DType.F64);
        assertThat(DType.of("bf16")).isEqualTo(DType.BF16);
        assertThatThrownBy(() -> DType.of("float128")).hasMessageContaining("float128");
    }
}
