package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** A kernel or copy that throws leaves no output tensor behind: its memory goes back to the pool. */
class KernelFailureReleaseTest {

    /** {@code base}, except that the named methods throw. */
    private static Device failing(TestDevice base, Set<String> failingMethods) {
        return (Device) Proxy.newProxyInstance(Device.class.getClassLoader(), new Class<?>[] {Device.class},
                (proxy, m, args) -> {
                    if (failingMethods.contains(m.getName())) {
                        throw new IllegalStateException("injected failure in " + m.getName());
                    }
                    try {
                        return m.invoke(base, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void fullAndUploadReleaseTheirOutputWhenTheDeviceThrows() {
        TestDevice base = new TestDevice();
        try (TensorContext ctx = TensorContext.create(failing(base, Set.of("fill", "copyFromHost")),
                AllocationStrategy.REACTIVE)) {
            assertThatThrownBy(() -> ctx.full(Shape.of(64), DType.F32, 2.0)).hasMessageContaining("fill");
            assertThatThrownBy(() -> ctx.ones(Shape.of(8, 8), DType.F64)).hasMessageContaining("fill");
            assertThatThrownBy(() -> ctx.fromArray(new float[16], Shape.of(4, 4)))
                    .hasMessageContaining("copyFromHost");
            assertThat(ctx.pool().stats().liveBytes()).isZero();
        }
        assertThat(base.liveBuffers()).isZero();
    }

    @Test
    void attentionReleasesItsOutputWhenTheKernelThrows() {
        TestDevice base = new TestDevice();
        // the test device has no kernels: kernels() throws once the output is allocated
        try (TensorContext ctx = TensorContext.create(base, AllocationStrategy.REACTIVE);
             Tensor q = ctx.empty(Shape.of(8), DType.F32);
             Tensor k = ctx.empty(Shape.of(4, 8), DType.F32);
             Tensor v = ctx.empty(Shape.of(4, 8), DType.F32)) {
            long before = ctx.pool().stats().liveBytes();
            assertThatThrownBy(() -> Tensor.attention(q, k, v, 2, 2, 4, 1))
                    .isInstanceOf(UnsupportedOperationException.class);
            assertThat(ctx.pool().stats().liveBytes()).isEqualTo(before);
        }
    }
}
