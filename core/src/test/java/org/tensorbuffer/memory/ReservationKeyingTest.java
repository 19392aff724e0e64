package org.tensorbuffer.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.testing.TestDevice;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/** The keyings of {@link TensorBuffer}: which requests share a reserved block. */
class ReservationKeyingTest {
    private final TestDevice device = new TestDevice("keying");

    @Test
    void keysMapShapesAsDocumented() {
        Shape s = Shape.of(3, 5);
        assertThat(ReservationKeying.SHAPE.key(s, DType.F32)).isSameAs(s);
        assertThat(ReservationKeying.ELEMENTS.key(s, DType.F32)).isEqualTo(Shape.of(15));
        // 60 bytes -> the 64-byte class: 16 floats, 8 doubles
        assertThat(ReservationKeying.SIZE_CLASS.key(s, DType.F32)).isEqualTo(Shape.of(16));
        assertThat(ReservationKeying.SIZE_CLASS.key(Shape.of(7), DType.F64)).isEqualTo(Shape.of(8));
        // 1000 floats = 4000 bytes -> class 4096 (2^11 + 4 x 2^9): 1024 floats
        assertThat(ReservationKeying.SIZE_CLASS.key(Shape.of(10, 100), DType.F32)).isEqualTo(Shape.of(1024));
        assertThat(SizeClasses.size(SizeClasses.index(4000))).isEqualTo(4096);
    }

    @Test
    void elementKeysServeShapesOfTheSameCountFromOneBlock() {
        try (BufferPool pool = BufferPool.of(device); TensorBuffer tb = new TensorBuffer(pool, "elements")) {
            tb.keying(ReservationKeying.ELEMENTS);
            tb.reserve(Shape.of(4, 6), DType.F32, 1);
            Block a = tb.take(Shape.of(4, 6), DType.F32);
            long address = a.buffer().address();
            a.close();
            Block b = tb.take(Shape.of(2, 12), DType.F32); // another shape of 24 floats: the same block
            assertThat(b.buffer().address()).isEqualTo(address);
            assertThat(b.capacity()).isEqualTo(96);
            Block c = tb.take(Shape.of(25), DType.F32); // 25 elements: another key, a miss
            assertThat(c.owner()).isSameAs(pool);
            b.close();
            c.close();
            assertThat(tb.stats().hits()).isEqualTo(2);
            assertThat(tb.stats().misses()).isEqualTo(1);
            assertThat(tb.reservedCount(Shape.of(3, 8), DType.F32)).isEqualTo(1);
        }
    }

    @Test
    void aRecordingIsKeyedAndAnEmptyTensorBufferTakesThePlansKeying(@TempDir Path dir) throws Exception {
        ReservationPlan plan;
        try (BufferPool pool = BufferPool.of(device); TensorBuffer rec = new TensorBuffer(pool, "rec")) {
            rec.keying(ReservationKeying.SIZE_CLASS);
            plan = rec.record(() -> {
                Block x = rec.take(Shape.of(100), DType.F32); // 400 B -> class 448 (7 x 64): key [112]
                x.close();
                Block y = rec.take(Shape.of(10, 11), DType.F32); // 440 B: the same class, never live with x
                Block z = rec.take(Shape.of(3), DType.F32); // 12 B -> class 64: key [16]
                y.close();
                z.close();
            });
        }
        assertThat(plan.keying()).isEqualTo(ReservationKeying.SIZE_CLASS);
        assertThat(plan.entries()).containsExactly(new ReservationPlan.Entry(Shape.of(112), DType.F32, 1),
                new ReservationPlan.Entry(Shape.of(16), DType.F32, 1));
        Path f = dir.resolve("p.plan");
        plan.save(f);
        assertThat(Files.readString(f)).contains("# keying: size_class");
        ReservationPlan loaded = ReservationPlan.load(f);
        assertThat(loaded).isEqualTo(plan);
        try (BufferPool pool = BufferPool.of(device); TensorBuffer tb = new TensorBuffer(pool, "run")) {
            assertThat(tb.reserve(loaded)).isEqualTo(2);
            assertThat(tb.keying()).isEqualTo(ReservationKeying.SIZE_CLASS);
            Block y = tb.take(Shape.of(10, 11), DType.F32);
            Block z = tb.take(Shape.of(3), DType.F32);
            assertThat(y.capacity()).isEqualTo(448);
            assertThat(tb.stats().misses()).isZero();
            y.close();
            z.close();
            // keyed otherwise with reservations: refused, naming both keyings
            ReservationPlan byElements = new ReservationPlan(List.of(new ReservationPlan.Entry(Shape.of(5),
                    DType.F32, 1)), ReservationKeying.ELEMENTS);
            assertThatThrownBy(() -> tb.reserve(byElements)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("ELEMENTS").hasMessageContaining("SIZE_CLASS");
            assertThatThrownBy(() -> tb.keying(ReservationKeying.SHAPE)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void anExactShapePlanInAKeyedTensorBufferAddsUpEntriesOfOneKey() {
        try (BufferPool pool = BufferPool.of(device); TensorBuffer tb = new TensorBuffer(pool, "sum")) {
            tb.keying(ReservationKeying.ELEMENTS);
            ReservationPlan exact = new ReservationPlan(List.of(new ReservationPlan.Entry(Shape.of(2, 3), DType.F32, 2),
                    new ReservationPlan.Entry(Shape.of(3, 2), DType.F32, 1)));
            assertThat(tb.reserve(exact)).isEqualTo(3); // never less than the plan asks
            assertThat(tb.reservedCount(Shape.of(6), DType.F32)).isEqualTo(3);
        }
    }

    @Test
    void aBadKeyingLineNamesFileAndLine(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("k.plan"), "# keying: bytes\nfloat32 [4] 1\n");
        assertThatThrownBy(() -> ReservationPlan.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("k.plan line 1").hasMessageContaining("unknown keying 'bytes'");
    }
}
