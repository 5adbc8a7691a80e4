import torch

# Gradients of several outputs at once: None stands for a scalar output's implicit 1.
x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
total = (x ** 2).sum()
scaled = x * 3
g, = torch.autograd.grad([total, scaled], x, grad_outputs=[None, torch.tensor([1.0, 0.5, 0.25])],
                         retain_graph=True)
print(g)
torch.autograd.backward([scaled, total], [torch.ones(3), None])
print(x.grad)
# Python numbers computed at run time become tensors again.
value = total.item()
print(torch.tensor(value), torch.tensor([value, 2.0]), torch.tensor([[value], [x.numel()]]))
print(torch.tensor([value, x.numel()], dtype=torch.float64))
w = torch.ones(2, 3, requires_grad=True)
print(w.view(3, 2).sum(), torch.zeros(2, 3).shape, w.repeat(2, 1).shape)
