#!/usr/bin/env python3
"""Independent reference for `tensorbuffer plan INSTANCE.json`: the contraction-path schedule of each einsum
instance (operands first, then per step the result allocated and both inputs released; the final result escapes),
its liveness lower bound (max over time of live bytes, each size rounded up to 64 bytes), and greedy-by-size /
in-order best-fit arena sizes. Used to cross-check PlanCommandTest's figures.

Usage: cli/scripts/plan_schedule_reference.py [DIR]   (default: data/einsum)
"""
import glob
import json
import sys

def shapes_of(d):
    return d['shapes']
def trace(d, path='opt_flops', itemsize=8):
    fs=d['format_string']; ins,out=fs.split('->'); terms=ins.split(',')
    shapes=d['shapes']
    dims={}
    for t,s in zip(terms,shapes):
        for c,n in zip(t,s): dims[c]=n
    ops=[(t,i) for i,t in enumerate(terms)]
    recs=[]  # [bytes, first, last]
    clock=0
    live=[]
    for t,s in zip(terms,shapes):
        n=1
        for x in s: n*=x
        recs.append([n*itemsize,clock,None]); clock+=1
    cur=list(range(len(terms)))
    curterms=list(terms)
    for pair in d['paths'][path]['path']:
        pair=sorted(pair,reverse=True)
        taken=[cur.pop(p) for p in pair]; tt=[curterms.pop(p) for p in pair]
        rest=set(''.join(curterms))|set(out)
        res=''.join(sorted(set(''.join(tt)) & rest, key=lambda c:''.join(tt).index(c)))
        n=1
        for c in res: n*=dims[c]
        recs.append([n*itemsize,clock,None]); clock+=1
        for k in taken: recs[k][2]=clock; clock+=1
        cur.append(len(recs)-1); curterms.append(res)
    end=clock
    for r in recs:
        if r[2] is None: r[2]=end
    return recs
def pad(b,a=64): return (b+a-1)//a*a
def lb(recs):
    ev=[]
    for b,f,l in recs: ev.append((f,0,pad(b))); ev.append((l,1,-pad(b)))
    ev.sort(); cur=0; m=0
    for _,_,x in ev: cur+=x; m=max(m,cur)
    return m
def place(recs, order):
    off={}
    for i in order:
        b,f,l=recs[i]; s=pad(b)
        ov=sorted([(off[j],pad(recs[j][0])) for j in off if recs[j][1]<=l and f<=recs[j][2] and recs[j][0]>0])
        prev=0; best=None; bg=None
        for o,sz in ov:
            g=o-prev
            if g>=s and (bg is None or g<bg): bg=g; best=prev
            prev=max(prev,o+sz)
        off[i]=best if best is not None else prev
    return max([off[i]+pad(recs[i][0]) for i in off]+[0])
d0 = sys.argv[1] if len(sys.argv) > 1 else 'data/einsum'
for f in sorted(glob.glob(d0 + '/*.json')):
    d=json.load(open(f)); recs=trace(d)
    L=lb(recs)
    bysize=place(recs, sorted(range(len(recs)), key=lambda i:(-pad(recs[i][0]),recs[i][1])))
    inord=place(recs, range(len(recs)))
    print(f"{d['name'][:45]:45s} n={len(recs):4d} lb={L:12d} size={bysize:12d} ({bysize/L:.4f}) inorder={inord:12d} ({inord/L:.4f})")
