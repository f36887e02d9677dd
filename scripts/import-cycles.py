#!/usr/bin/env python3
# Prints each import circle among the crate's files: strongly connected components of the
# file-level graph of `crate::` / `super::` paths (test modules left out). One file, one idea
# only works if no two files need each other; the lead wires this into CI once none are left.
# Usage: python3 scripts/import-cycles.py   (from the repository root; exit 1 if any circle)
import os,re,sys,itertools
root='src'
files={}
for dp,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(dp,f); files[p]=open(p).read()
def modpath(p):
    m=p[len('src/'):-3].split('/')
    if m[-1]=='mod': m=m[:-1]
    if m in (['lib'],['main']): return []
    return m
mods={tuple(modpath(p)):p for p in files}
def resolve(path, cur):
    # path: list of segments after crate:: or super::
    for i in range(len(path),0,-1):
        if tuple(path[:i]) in mods: return tuple(path[:i])
    return None
edges=set()
for p,src in files.items():
    cur=modpath(p)
    # strip test modules
    src=re.split(r'#\[cfg\(test\)\]\s*mod tests',src)[0]
    for m in re.finditer(r'(crate|super)((?:::\w+)+)',src):
        segs=m.group(2).strip(':').split('::')
        if m.group(1)=='crate': base=[]
        else:
            base=cur[:-1] if not p.endswith('mod.rs') else cur[:-1]
            # super in foo/bar.rs -> foo ; in foo/mod.rs -> parent of foo
        # handle multiple super
        t=resolve(base+segs,cur)
        if t and t!=tuple(cur): edges.add((tuple(cur),t))
    # use super::{a,b}
    for m in re.finditer(r'use (crate|super)::\{([^}]*)\}',src):
        base=[] if m.group(1)=='crate' else cur[:-1]
        for item in m.group(2).split(','):
            item=item.strip().split('::')
            t=resolve(base+[x for x in item if x],cur)
            if t and t!=tuple(cur): edges.add((tuple(cur),t))
adj={}
for a,b in edges: adj.setdefault(a,set()).add(b)
# find 2-cycles and SCCs
idx={};low={};st=[];on=set();sccs=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in adj.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: sccs.append(comp)
sys.setrecursionlimit(10000)
for v in list(mods):
    if v not in idx: sc(v)
for s in sccs: print(sorted('::'.join(x) for x in s))
sys.exit(1 if sccs else 0)
