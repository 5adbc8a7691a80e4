import torch

X = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
Y = torch.tensor([[3.0], [5.0], [7.0], [9.0]])
w = torch.zeros(size=[1, 1], requires_grad=True)
b = torch.zeros(size=[1], requires_grad=True)
lr = 0.05
for step in range(50):
    pred = ((X @ w) + b)
    loss = torch.mean(((pred - Y) ** 2))
    loss.backward()
    with torch.no_grad():
        w = w.sub_((w.grad * lr))
        b = b.sub_((b.grad * lr))
        (w.grad).zero_()
        (b.grad).zero_()
    if ((step % 10) == 0):
        print('step {:2d}: loss {:.4f}'.format(step, loss.item()))
print('w =', w.item(), 'b =', b.item())
