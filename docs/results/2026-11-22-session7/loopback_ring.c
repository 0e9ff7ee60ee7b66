// raw loopback ring: N procs, each sends B bytes right and receives B bytes from left
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int n=atoi(argv[1]); size_t B=strtoull(argv[2],0,10); int buf=atoi(argv[3]); int base=40000+getpid()%1000*10;
  int go[2]; pipe(go);
  for(int r=0;r<n;r++) if(fork()==0){
    int ls=socket(AF_INET,SOCK_STREAM,0); int one=1; setsockopt(ls,SOL_SOCKET,SO_REUSEADDR,&one,4);
    struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_addr.s_addr=htonl(0x7f000001);
    a.sin_port=htons(base+r); if(bind(ls,(void*)&a,sizeof a)) {perror("bind");exit(1);} listen(ls,4);
    usleep(200000);
    int out=socket(AF_INET,SOCK_STREAM,0); if(buf>0){setsockopt(out,SOL_SOCKET,SO_SNDBUF,&buf,4);setsockopt(out,SOL_SOCKET,SO_RCVBUF,&buf,4);}
    a.sin_port=htons(base+(r+1)%n); if(connect(out,(void*)&a,sizeof a)){perror("connect");exit(1);}
    int in=accept(ls,0,0); if(buf>0){setsockopt(in,SOL_SOCKET,SO_SNDBUF,&buf,4);setsockopt(in,SOL_SOCKET,SO_RCVBUF,&buf,4);}
    setsockopt(out,IPPROTO_TCP,TCP_NODELAY,&one,4);
    fcntl(out,F_SETFL,O_NONBLOCK); fcntl(in,F_SETFL,O_NONBLOCK);
    char*s=aligned_alloc(4096,B),*d=aligned_alloc(4096,B); memset(s,1,B); memset(d,0,B);
    close(go[1]); char c; read(go[0],&c,1);
    for(int it=0;it<4;it++){
    double t0=now(); size_t sent=0,got=0;
    while(sent<B||got<B){
      struct pollfd p[2]={{out,POLLOUT,0},{in,POLLIN,0}}; poll(p,2,-1);
      if(sent<B){ssize_t w=send(out,s+sent,B-sent,MSG_DONTWAIT); if(w>0)sent+=w;}
      if(got<B){ssize_t w=recv(in,d+got,B-got,MSG_DONTWAIT); if(w>0)got+=w;}
    }
    double t=now()-t0; if(r==0) fprintf(stderr,"rank %d it %d: %.1f ms  %.3f GB/s\n",r,it,t*1e3,B/t/1e9);
    }
    exit(0);
  }
  usleep(500000); close(go[0]); close(go[1]);
  for(int r=0;r<n;r++) wait(0);
}
