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
        assertThat(s).hasSize(1 + 5 * 15 + 2);
        // the same shapes as the decode code's own list of one step's buffers
        org.tensorbuffer.llama.Config c = new org.tensorbuffer.llama.Config(64, 172, 5, 8, 4, 512, 512, true);
        assertThat(new java.util.HashSet<>(s))
                .isEqualTo(org.tensorbuffer.llama.Transformer.stepBuffers(c).keySet());
        assertThat(SizeProfiles.dtype("decode260K")).isEqualTo(DType.F32);
    }

    @Test
    void drawsAreDeterministicAndUnknownProfilesAreNamed() {
        assertThat(SizeProfiles.draws("tn415", 100)).containsExactly(SizeProfiles.draws("tn415", 100));
        assertThatThrownBy(() -> SizeProfiles.shapes("gpt2")).hasMessageContaining("gpt2");
    }
}
