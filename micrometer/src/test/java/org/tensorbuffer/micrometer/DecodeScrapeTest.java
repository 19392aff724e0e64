package org.tensorbuffer.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.DecodeStats;
import org.tensorbuffer.llama.Generator;
import org.tensorbuffer.llama.Sampler;
import org.tensorbuffer.llama.Tokenizer;
import org.tensorbuffer.llama.Transformer;

/** A real decode (the bundled stories260K, 32 positions, proactive) scraped as Prometheus would. */
class DecodeScrapeTest {
    @Test
    void scrapeOfARealDecodeMatchesTheContextsStatistics() throws Exception {
        Path model = Path.of("..", "models", "stories260K.bin");
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (Checkpoint ck = Checkpoint.open(model);
             TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PROACTIVE)) {
            new TensorContextMetrics(ctx, Tags.of("model", "stories260K")).bindTo(registry);
            try (Transformer m = Transformer.load(ck, ctx, "stories260K")) {
                DecodeStats st = Generator.generate(m, new Sampler(ck.config().vocabSize(), 0f, 0.9f, 42),
                        new int[] {Tokenizer.BOS}, 32, null);
                assertThat(st.tokens()).isEqualTo(32);
                String text = registry.scrape();
                Files.createDirectories(Path.of("target"));
                Files.writeString(Path.of("target", "decode-scrape.txt"), text);
                Map<String, Long> stats = ctx.memoryStats();
                String tb = "{allocator=\"tensor_buffer\",device=\"cpu\",model=\"stories260K\",name=\"default\"}";
                assertThat(text).contains("tensorbuffer_memory_learnable_bytes" + tb + " "
                        + (double) stats.get("tensorbuffer.tensor_buffer.learnable_bytes"))
                        .contains("tensorbuffer_allocations_hits_total" + tb + " "
                                + (double) stats.get("tensorbuffer.tensor_buffer.hits"))
                        .contains("tensorbuffer_memory_reserved_bytes" + tb + " "
                                + (double) stats.get("tensorbuffer.tensor_buffer.reserved_bytes.current"));
                assertThat(stats.get("tensorbuffer.tensor_buffer.learnable_bytes")).isPositive();
            }
        }
    }
}
