package com.example;

import java.util.Arrays;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

public class Example {
    public static void main(String[] args) {
        try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PROACTIVE)) {
            Shape hidden = Shape.of(4);
            ctx.tensorBuffer().reserve(hidden, DType.F32, 3);            // before the loop: no allocation inside it
            try (Tensor w = ctx.fromArray(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                    Shape.of(4, 4));
                 Tensor x = ctx.ones(hidden, DType.F32)) {
                float[] result = null;
                for (int step = 0; step < 3; step++) {
                    try (Tensor h = w.matmul(x);                            // [4,4] @ [4] -> [4], row-major
                         Tensor y = h.silu()) {
                        result = y.toFloatArray();
                    }                                                       // buffers go back to the TensorBuffer
                }
                System.out.println(Arrays.toString(result));                // silu of the row sums 10, 26, 42, 58
                System.out.println(ctx.tensorBuffer().stats());             // hits, misses, live/peak/reserved bytes
            }
        }
    }
}
