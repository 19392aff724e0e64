package org.tensorbuffer.plan;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.ReservationPlan;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class ReservationPlanFromTraceTest {
    @Test
    void perKeyPeakOfLiveTensors() {
        Shape a = Shape.of(4, 8);
        Shape b = Shape.of(100);
        AllocationTrace.Builder r = new AllocationTrace.Builder();
        int x = r.allocated(128, 64, a, DType.F32);
        int y = r.allocated(128, 64, a, DType.F32);
        r.released(x);
        int z = r.allocated(800, 64, b, DType.F64);
        int w = r.allocated(128, 64, a, DType.F32); // a: y and w live together, never three
        r.released(w);
        r.released(y);
        r.allocated(800, 64, b, DType.F64);         // escapes, live with z until the end
        r.allocated(16, 64, null, null);            // synthetic: left out
        AllocationTrace t = r.build();
        assertThat(t.reservationPlan()).isEqualTo(new ReservationPlan(List.of(
                new ReservationPlan.Entry(a, DType.F32, 2), new ReservationPlan.Entry(b, DType.F64, 2))));
        assertThat(z).isEqualTo(2);
    }
}
