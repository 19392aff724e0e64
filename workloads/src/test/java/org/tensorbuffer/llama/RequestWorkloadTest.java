package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.memory.ShapeBuckets;

/** The request workload on the CPU device and every other available device (Vulkan on lavapipe here). */
class RequestWorkloadTest {

    @Test
    void drawIsSeededAndWithinBounds() throws Exception {
        Config c = new Config(64, 172, 5, 8, 4, 512, 128, true);
        List<RequestWorkload.Request> a = RequestWorkload.draw(c, 50, 9, 40, 20);
        List<RequestWorkload.Request> b = RequestWorkload.draw(c, 50, 9, 40, 20);
        assertThat(a).hasSize(50);
        for (int i = 0; i < a.size(); i++) {
            assertThat(a.get(i).prompt()).containsExactly(b.get(i).prompt());
            assertThat(a.get(i).prompt()[0]).isEqualTo(Tokenizer.BOS);
            assertThat(a.get(i).prompt().length).isBetween(1, 40);
            assertThat(a.get(i).maxNewTokens()).isBetween(1, 20);
            assertThat(a.get(i).steps()).isLessThanOrEqualTo(128);
        }
        assertThat(a.stream().mapToInt(r -> r.prompt().length).distinct().count()).isGreaterThan(10);
        assertThat(RequestWorkload.draw(c, 50, 10, 40, 20).getFirst().prompt())
                .isNotEqualTo(a.getFirst().prompt());
        assertThatThrownBy(() -> RequestWorkload.draw(c, 0, 1, 10, 10)).hasMessageContaining("--requests");
        assertThatThrownBy(() -> RequestWorkload.draw(c, 1, 1, 129, 10)).hasMessageContaining("seq_len 128");
    }

    @Test
    void everyStrategyGivesTheSameIdsAndProactiveStopsAllocating() throws Exception {
        for (String d : PrefillTest.devices()) {
            boolean cpu = d.equals("cpu");
            Config c;
            try (Checkpoint ck = Checkpoint.open(TestModels.aidreams())) {
                c = ck.config();
            }
            int maxPrompt = cpu ? 64 : 24;
            List<RequestWorkload.Request> reqs = RequestWorkload.draw(c, cpu ? 20 : 12, 3, maxPrompt, cpu ? 16 : 4);
            Map<AllocationStrategy, RequestWorkload.Stats> st = new EnumMap<>(AllocationStrategy.class);
            for (AllocationStrategy s : AllocationStrategy.values()) {
                st.put(s, RequestWorkload.run(TestModels.aidreams(), d, s, reqs, maxPrompt, PrefillMode.BATCHED,
                        null));
            }
            RequestWorkload.Stats none = st.get(AllocationStrategy.NONE);
            RequestWorkload.Stats pro = st.get(AllocationStrategy.PROACTIVE);
            RequestWorkload.Stats planned = st.get(AllocationStrategy.PLANNED);
            st.forEach((s, x) -> {
                assertThat(x.ids()).hasSize(reqs.size());
                for (int i = 0; i < reqs.size(); i++) {
                    assertThat(x.ids().get(i)).as("%s %s request %d", d, s, i).containsExactly(none.ids().get(i));
                }
                if (s != AllocationStrategy.NONE) {
                    assertThat(x.peakReservedBytes()).as("%s %s", d, s).isGreaterThanOrEqualTo(x.lowerBoundBytes());
                }
            });
            // NONE holds exactly what is live: its peak is the lower bound, less the bound's rounding of each live
            // buffer up to 64 bytes (the planner's alignment)
            assertThat(none.peakReservedBytes()).isLessThanOrEqualTo(none.lowerBoundBytes())
                    .isGreaterThan(none.lowerBoundBytes() - 64L * 64);
            assertThat(pro.rawAllocsAfterWarmup()).as(d).isZero();
            assertThat(pro.tensorBufferHitRate()).isEqualTo(1.0);
            assertThat(pro.poolRequests()).isZero();
            assertThat(pro.reservedOverLowerBound()).isLessThanOrEqualTo(1.5);
            // planned: one plan per bucket of 2..maxPrompt tokens, made before the first request, and one for the step
            long bucketPlans = java.util.Arrays.stream(ShapeBuckets.powersOfTwo(maxPrompt).sizes())
                    .filter(b -> b >= 2).count();
            assertThat(planned.plans()).as("one plan per bucket and one for the step")
                    .isEqualTo((int) bucketPlans + 1);
            assertThat(planned.plan().divergentRuns()).as(planned.plan().lastDivergence()).isZero();
            assertThat(planned.plan().recordedRuns()).as("only the decode step is recorded").isEqualTo(1);
            assertThat(planned.rawAllocsAfterWarmup()).as(d).isZero();
            assertThat(st.get(AllocationStrategy.REACTIVE).poolHitRate()).isGreaterThan(0.9);
            long tokens = reqs.stream().mapToInt(RequestWorkload.Request::steps).sum();
            assertThat(pro.prefillTokens() + pro.decodeTokens()).isLessThanOrEqualTo(tokens);
            assertThat(pro.prefillTokensPerSecond()).isPositive();
        }
    }
}
