package org.tensorbuffer.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

class SizeProfilesTest {
    @Test
    void tn415MatchesTheDesignNotesFigures() {
        // Design note 001, section 1: 414 intermediates, 219,832,072 bytes, median 32 B; its table gives 73.9% (306)
        // at most 64 B (its prose says 305, 73.7%); recomputed from the einsum JSON with the opt_size path.
        List<Shape> s = SizeProfiles.shapes("tn415");
        assertThat(s).hasSize(414);
        long[] bytes = s.stream().mapToLong(x -> x.byteSize(DType.F64)).sorted().toArray();
        assertThat(java.util.Arrays.stream(bytes).sum()).isEqualTo(219_832_072L);
        assertThat(bytes[207]).isEqualTo(32);
        assertThat(java.util.Arrays.stream(bytes).filter(b -> b <= 64).count()).isEqualTo(306);
        assertThat(bytes[413]).isEqualTo(128L << 20);
    }

    @Test
    void decodeStepOfStories260K() {
        List<Shape> s = SizeProfiles.shapes("decode260K");
        assertThat(s).hasSize(1 + 5 * 12 + 2);
        // the same shapes as one decode step of stories260K recorded on the meta device (KV cache left out)
        java.nio.file.Path model = java.nio.file.Path.of("..", "models", "stories260K.bin");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isReadable(model), "model not present");
        try (org.tensorbuffer.llama.Checkpoint ck = org.tensorbuffer.llama.Checkpoint.open(model)) {
            java.util.Set<Shape> recorded = new java.util.HashSet<>();
            org.tensorbuffer.llama.Transformer.recordStep(ck).entries().forEach(e -> recorded.add(e.shape()));
            recorded.remove(Shape.of(512, 32));
            assertThat(new java.util.HashSet<>(s)).isEqualTo(recorded);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertThat(SizeProfiles.dtype("decode260K")).isEqualTo(DType.F32);
    }

    @Test
    void drawsAreDeterministicAndUnknownProfilesAreNamed() {
        assertThat(SizeProfiles.draws("tn415", 100)).containsExactly(SizeProfiles.draws("tn415", 100));
        assertThatThrownBy(() -> SizeProfiles.shapes("gpt2")).hasMessageContaining("gpt2");
    }
}
