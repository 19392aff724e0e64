"""Reads a memory snapshot pickle with PyTorch's own code and prints what it found as key=value lines.

Usage: python3 torch_snapshot_check.py SNAPSHOT.pickle
Uses torch.cuda._memory_viz (PyTorch 1.13 and later): stats, segments and memory on the snapshot's
'segments' list, with the flame graph formatter replaced by the identity (no flamegraph.pl download).
"""
import pickle
import sys

import torch
import torch.cuda._memory_viz as mv

with open(sys.argv[1], 'rb') as f:
    snap = pickle.load(f)
segs = snap['segments']
st = mv.stats(segs)  # asserts that each segment's blocks add up to its total_size
seg_text = mv.segments(segs, format_flamegraph=lambda s: s)
mem_text = mv.memory(segs, format_flamegraph=lambda s: s)
trace = snap['device_traces'][0]
print('torch=' + torch.__version__)
print('segments=%d' % st['segments'])
print('total_size=%d' % st['total_size'].value)
print('active_allocated=%d' % (st['active_allocated'].value if 'active_allocated' in st else 0))
print('inactive=%d' % (st['inactive'].value if 'inactive' in st else 0))
print('segment_lines=%d' % len(seg_text.splitlines()))
print('memory_lines=%d' % len(mem_text.splitlines()))
print('java_frames=%d' % sum(1 for line in mem_text.splitlines() if '.java:' in line))
print('trace_events=%d' % len(trace))
for action in ['alloc', 'free_requested', 'free_completed', 'segment_alloc', 'segment_free']:
    print('trace.%s=%d' % (action, sum(1 for e in trace if e['action'] == action)))
print('trace_alloc_bytes=%d' % sum(e['size'] for e in trace if e['action'] == 'alloc'))
print('trace_free_bytes=%d' % sum(e['size'] for e in trace if e['action'] == 'free_completed'))
print('streams=%s' % sorted({e['stream'] for e in trace} | {s['stream'] for s in segs}))
