/* gap: how much of a working set the caches keep across a gap (docs/benchmarks.md, "A lone
 * write at 1,000 writes/s runs on cold caches"). Reads one byte of each 64-byte line of a
 * WS-KiB buffer in random order, 1,000 times, after a gap of GAP µs spent busy-waiting (mode 0)
 * or asleep (mode 1), and prints the median time of a pass.
 *   cc -O2 -o /tmp/gap bench/experiments/gap.c && /tmp/gap 1024 0 1000 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static inline unsigned long long rd(void){unsigned lo,hi;__asm__ volatile("rdtsc":"=a"(lo),"=d"(hi));return ((unsigned long long)hi<<32)|lo;}
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  size_t sz=(size_t)atoi(argv[1])*1024; int mode=atoi(argv[2]); int gap=atoi(argv[3]);
  char *m=malloc(sz); for(size_t i=0;i<sz;i++) m[i]=i;
  size_t lines=sz/64; unsigned *idx=malloc(lines*4); for(size_t i=0;i<lines;i++) idx[i]=i; for(size_t i=lines-1;i>0;i--){size_t j=rand()%(i+1);unsigned t=idx[i];idx[i]=idx[j];idx[j]=t;}
  volatile int s=0; int R=1000; double tot[1000];
  for(int r=0;r<R;r++){
    if(mode==0){double t=now(); while(now()-t<gap);} else usleep(gap);
    unsigned long long t0=rd(); for(size_t i=0;i<lines;i++) s+=m[(size_t)idx[i]*64]; unsigned long long t1=rd();
    tot[r]=(t1-t0)/2.6/1000.0;
  }
  // median
  for(int i=0;i<R;i++)for(int j=i+1;j<R;j++)if(tot[j]<tot[i]){double t=tot[i];tot[i]=tot[j];tot[j]=t;}
  printf("ws=%sKB mode=%s gap=%dus: p50 %.1f us per pass (%.1f ns/line)\n",argv[1],mode?"sleep":"busy",gap,tot[R/2],tot[R/2]*1000/lines);
}
