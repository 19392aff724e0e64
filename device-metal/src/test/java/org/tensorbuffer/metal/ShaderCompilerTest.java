package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorbuffer.types.DType;

class ShaderCompilerTest {

    @ParameterizedTest
    @ValueSource(strings = {"binary", "scale", "silu", "rmsnorm", "softmax", "rope", "attention", "argmax",
            "reduce_sum", "gemm", "gemm_dot"})
    void everyTypedShaderCompilesForFloat32AndFloat64(String name) {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            byte[] spirv = ShaderCompiler.spirv(name, t);
            assertThat(spirv.length).isGreaterThan(100);
            // SPIR-V magic number
            assertThat(ByteBuffer.wrap(spirv).order(ByteOrder.LITTLE_ENDIAN).getInt(0)).isEqualTo(0x07230203);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fill", "strided_copy"})
    void typeFreeShadersCompile(String name) {
        assertThat(ShaderCompiler.spirv(name, null)).hasSizeGreaterThan(100);
        assertThat(ShaderCompiler.spirv(name, null)).isSameAs(ShaderCompiler.spirv(name, null));
    }
}
